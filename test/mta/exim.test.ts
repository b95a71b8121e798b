// Real Exim (Debian's exim4-daemon-light, unpacked) running examples/exim/exim.conf as shipped,
// inside a loopback-only network namespace whose resolver is a stand-in for Tor's DNSPort with
// AutomapHostsOnResolve (exim-lab.ts). Proves, by actual delivery:
// - one message for an onion-routed domain and a clearnet domain is split per recipient: the onion
//   recipient leaves through socks_proxy (an IPv4 CONNECT to the virtual address Tor handed out for
//   the onion) to the onion's sink, the clearnet one by MX to the clearnet sink;
// - a forged routing header from the client is removed and the daemon's header added, over SMTP
//   and for local submissions (acl_not_smtp);
// - no `.onion` name ever reaches the ordinary DNS server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { needSetup, eximBinary } from '../helpers/exim-install.ts';
import { startNetnsWorker, type NetnsWorker } from '../helpers/netns.ts';
import { EXIM_LAB_SCRIPT, type LabInfo } from '../helpers/exim-lab-fixtures.ts';
import { CLEARNET_DOMAIN, EXPECTED_HEADER, LAB_NETNS, ONION, ONION_DOMAIN, ROUTE_HEADER as HEADER, type SocksSeen } from '../helpers/mta-lab-fixtures.ts';
import type { SinkMessage } from '../helpers/smtp-sink.ts';
import type { TransactionResult } from '../helpers/smtp-client.ts';
import type { SubmitResult } from '../helpers/exim.ts';
import { buildMessage, headerValues } from '../helpers/smtp-message.ts';
import { sendMixedMessage } from '../helpers/mta-lab-checks.ts';

const skip = needRoot() || needPrograms('ip', 'unshare', 'mount', 'apt-get', 'dpkg-deb') || needSetup('Exim (unpacked exim4-daemon-light)', () => void eximBinary());

const FORGED = `${ONION_DOMAIN}=forgedforgedforgedforgedforgedforgedforgedforgedforgedfo.onion:25`;

describe('real Exim routing onion mail per recipient', { skip, timeout: 120_000 }, () => {
  let lab: NetnsWorker;

  before(async () => {
    lab = await startNetnsWorker(EXIM_LAB_SCRIPT, { ...LAB_NETNS, label: 'exim' });
    const info = await lab.call<LabInfo>('info');
    assert.ok(info.eximPort > 0);
  });
  after(async () => {
    await lab.close();
  });

  const waitFor = (sink: 'onion' | 'clearnet', subject: string): Promise<SinkMessage> => lab.call<SinkMessage>('waitForMessage', sink, subject);

  it('splits one SMTP message: the onion recipient through Tor, the clearnet one by MX; the forged header is replaced', async () => {
    const { clear } = await sendMixedMessage(lab, 'exim smtp mixed', FORGED);
    assert.deepEqual(headerValues(clear.data, HEADER), [EXPECTED_HEADER], 'one copy of the message, one header');

    // Exim handed Tor the virtual address (ATYP 1) it resolved the onion to, never a clear host.
    const mappings = new Map(await lab.call<[string, string][]>('mappings'));
    const virtual = mappings.get(ONION);
    assert.ok(virtual !== undefined, 'the onion was resolved through the Tor DNS stand-in');
    const socks = await lab.call<SocksSeen[]>('socksRequests');
    assert.ok(
      socks.some((r) => r.command === 'connect' && r.atyp === 1 && r.destination === `${virtual}:25` && r.rep === 0),
      JSON.stringify(socks),
    );
    assert.ok(socks.every((r) => r.destination.startsWith('10.192.')), `only virtual addresses go to Tor: ${JSON.stringify(socks)}`);
    const log = await lab.call<string>('mainLog');
    assert.match(log, new RegExp(`=> bob@${ONION_DOMAIN.replaceAll('.', '\\.')} R=onionmx_route T=onionmx_tor H=${ONION.replaceAll('.', '\\.')} \\[${virtual.replaceAll('.', '\\.')}\\]`));
    assert.match(log, new RegExp(`=> carol@${CLEARNET_DOMAIN.replaceAll('.', '\\.')} R=dnslookup T=remote_smtp H=mx\\.${CLEARNET_DOMAIN.replaceAll('.', '\\.')} \\[127\\.0\\.0\\.2\\]`));
  });

  it('removes a forged header from clearnet-only mail and adds none', async () => {
    const result = await lab.call<TransactionResult>('smtp', {
      from: 'alice@sender.example',
      to: [`dave@${CLEARNET_DOMAIN}`],
      message: buildMessage([
        ['Subject', 'exim smtp forged only'],
        [HEADER, FORGED],
      ]),
    });
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const clear = await waitFor('clearnet', 'exim smtp forged only');
    assert.deepEqual(clear.to, [`dave@${CLEARNET_DOMAIN}`]);
    assert.deepEqual(headerValues(clear.data, HEADER), []);
    const onion = await lab.call<SinkMessage[]>('messages', 'onion');
    assert.ok(!onion.some((m) => m.data.includes('exim smtp forged only')), 'a forged header routes nothing');
  });

  it('routes a local submission (acl_not_smtp) the same way, forged header replaced', async () => {
    const submitted = await lab.call<SubmitResult>(
      'submit',
      ['-f', 'alice@sender.example', `erin@${ONION_DOMAIN}`, `frank@${CLEARNET_DOMAIN}`],
      buildMessage([
        ['Subject', 'exim local mixed'],
        [HEADER, FORGED],
      ]),
    );
    assert.equal(submitted.code, 0, submitted.stderr);
    const viaTor = await waitFor('onion', 'exim local mixed');
    assert.deepEqual(viaTor.to, [`erin@${ONION_DOMAIN}`]);
    assert.deepEqual(headerValues(viaTor.data, HEADER), [EXPECTED_HEADER]);
    const clear = await waitFor('clearnet', 'exim local mixed');
    assert.deepEqual(clear.to, [`frank@${CLEARNET_DOMAIN}`]);
  });

  it('never asked the ordinary DNS server about a .onion name', async () => {
    const upstream = await lab.call<string[]>('upstreamDnsQueries');
    assert.ok(upstream.some((q) => q.startsWith(`_onion-mx._tcp.${ONION_DOMAIN} SRV`)), `the daemon's SRV lookup went there: ${upstream.join(', ')}`);
    assert.ok(upstream.some((q) => q === `${CLEARNET_DOMAIN} MX`), `Exim's MX lookup went there: ${upstream.join(', ')}`);
    assert.deepEqual(
      upstream.filter((q) => /\.onion\.? /.test(q) || /\.onion$/.test(q.split(' ')[0] ?? '')),
      [],
    );
    const local = await lab.call<string[]>('torDnsQuestions');
    assert.ok(local.includes(`${ONION} A`), `the onion was asked of the Tor DNS stand-in: ${local.join(', ')}`);
  });

  // Last: stops the daemon.
  it('defers every recipient, clearnet ones too, while the daemon cannot be asked (never fails open)', async () => {
    await lab.call('stopDaemon');
    const codes = await lab.call<number[]>('smtpDialog', ['EHLO client.test', 'MAIL FROM:<alice@sender.example>', `RCPT TO:<gina@${ONION_DOMAIN}>`, `RCPT TO:<hank@${CLEARNET_DOMAIN}>`, 'DATA']);
    // Exim 4.96 surprise: after one failed ${readsocket} connect, the next one in the same process
    // fails with "readsock fdopen: Invalid argument" (fail string: 451 again), then Exim cannot
    // write its log and drops the session with 421. Either way nothing is accepted.
    assert.deepEqual(codes.slice(0, 4), [250, 250, 451, 451], String(codes));
    assert.ok(codes[4] === 503 || codes[4] === 421 || codes[4] === 0, `DATA refused: ${String(codes)}`);
    const log = await lab.call<string>('mainLog');
    assert.match(log, /temporarily rejected RCPT <gina@onion-routed\.example>: onionmx: DEFER onionmx-milter unreachable/);
  });
});
