// Real Sendmail (Debian's sendmail-bin, unpacked) with the .mc lines of examples/sendmail, inside
// a loopback-only network namespace (sendmail-lab.ts). Proves, by actual delivery:
// - a recipient of an onion-routed domain gets a `smtptor:[<onion>]` mailertable route from the
//   daemon's socket map and leaves through onion-smtp-relay under torsocks: a SOCKS5 CONNECT naming
//   the onion (ATYP 3) at the fake Tor, which pipes it to the onion's sink;
// - a clearnet recipient of the same message goes by MX to the clearnet sink, not through Tor;
// - the milter's routing header is present and a forged one from the client is gone;
// - no `.onion` name is ever asked of DNS.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { needSetup } from '../helpers/exim-install.ts';
import { sendmailInstall } from '../helpers/sendmail-install.ts';
import { startNetnsWorker, type NetnsWorker } from '../helpers/netns.ts';
import { CLEARNET_DOMAIN, ONION, ONION_DOMAIN, SENDMAIL_LAB_SCRIPT } from '../helpers/sendmail-lab-fixtures.ts';
import type { SinkMessage } from '../helpers/smtp-sink.ts';
import type { TransactionResult } from '../helpers/smtp-client.ts';
import { buildMessage, headerValues } from '../helpers/smtp-message.ts';

const skip =
  needRoot() || needPrograms('ip', 'unshare', 'mount', 'apt-get', 'dpkg-deb', 'm4', 'torsocks', 'bash') || needSetup('Sendmail (unpacked sendmail-bin, sendmail-cf)', () => void sendmailInstall());

const HEADER = 'X-Onion-Route';
const FORGED = 'smtptor:[forgedforgedforgedforgedforgedforgedforgedforgedforgedfo.onion]:25';

interface SocksSeen {
  readonly command: string;
  readonly atyp: number;
  readonly destination: string;
  readonly rep: number | undefined;
}

describe('real Sendmail routing onion mail through the milter and the socket map', { skip, timeout: 120_000 }, () => {
  let lab: NetnsWorker;

  before(async () => {
    // Sendmail qualifies this host's name before it reads its .cf, and sleeps a minute when it
    // cannot: a hosts file that gives the name a domain spares that (and any DNS query for it).
    const host = hostname();
    lab = await startNetnsWorker(SENDMAIL_LAB_SCRIPT, {
      label: 'sendmail',
      privateTmp: true,
      resolvConf: 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n',
      files: { '/etc/hosts': `127.0.0.1 localhost\n127.0.1.1 ${host}.sendmail.test ${host}\n` },
    });
  });
  after(async () => {
    await lab.close();
  });

  const waitFor = (sink: 'onion' | 'clearnet', subject: string): Promise<SinkMessage> => lab.call<SinkMessage>('waitForMessage', sink, subject);

  it('delivers the onion recipient through torsocks and the fake Tor, the clearnet one by MX; header replaced', async () => {
    const result = await lab.call<TransactionResult>('smtp', {
      from: 'alice@sender.example',
      to: [`bob@${ONION_DOMAIN}`, `carol@${CLEARNET_DOMAIN}`],
      message: buildMessage([
        ['Subject', 'sendmail mixed'],
        [HEADER, FORGED],
      ]),
    });
    assert.deepEqual(
      result.rcpts.map((r) => r.reply.code),
      [250, 250],
      JSON.stringify(result.rcpts),
    );
    assert.equal(result.data?.code, 250, result.data?.raw);

    const viaTor = await waitFor('onion', 'sendmail mixed');
    assert.deepEqual(viaTor.to, [`bob@${ONION_DOMAIN}`]);
    const headers = headerValues(viaTor.data, HEADER);
    assert.deepEqual(headers, [`${ONION_DOMAIN}=${ONION}:25`], 'the forged header is gone and the milter added its own');

    const clear = await waitFor('clearnet', 'sendmail mixed');
    assert.deepEqual(clear.to, [`carol@${CLEARNET_DOMAIN}`]);

    const socks = await lab.call<SocksSeen[]>('socksRequests');
    assert.ok(
      socks.some((r) => r.command === 'connect' && r.atyp === 3 && r.destination === `${ONION}:25` && r.rep === 0),
      JSON.stringify(socks),
    );
    assert.ok(!socks.some((r) => r.destination.includes(CLEARNET_DOMAIN) || r.destination.startsWith('127.0.0.2')), 'clearnet mail did not go through Tor');
  });

  it('never asks DNS about a .onion name', async () => {
    const asked = await lab.call<string[]>('resolverQuestions');
    assert.ok(asked.some((q) => q.startsWith(`${CLEARNET_DOMAIN} MX`)), `Sendmail's MX lookup went there: ${asked.join(', ')}`);
    assert.deepEqual(
      asked.filter((q) => /\.onion$/.test(q.split(' ')[0] ?? '')),
      [],
    );
    const upstream = await lab.call<string[]>('upstreamDnsQueries');
    assert.deepEqual(
      upstream.filter((q) => /\.onion$/.test(q.split(' ')[0] ?? '')),
      [],
    );
  });
});
