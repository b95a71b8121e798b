// The torsocks alternative (examples/postfix/alternatives/torsocks) still works as documented: a
// real Postfix built from examples/postfix with the alternative's smtptor transport, header checks
// and smtp_tor wrapper in place of the relay, the daemon from examples/config.yml with
// header.transport smtptor and the relay off, and Postfix's smtp client under Debian's torsocks
// reaching the Tor stand-in, which hands the onion's connection to a sink. The relay is the way
// the examples deliver (postfix-onion-relay.test.ts); this suite keeps the alternative honest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { sinkNexthop } from '../helpers/postfix.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { sendSmtp } from '../helpers/smtp-client.ts';
import { buildMessage, headerValues } from '../helpers/smtp-message.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { tempDirUntilEnd } from '../helpers/process-end.ts';
import { queueIdOf, startOnionPostfix, type OnionPostfix } from '../helpers/e2e-postfix.ts';
import { installTorsocksAlternative } from '../helpers/e2e-torsocks.ts';
import { exampleConfig, startDaemon, type DaemonProcess } from '../helpers/e2e-daemon.ts';
import { onionFromPublicKey } from '../../src/resolve/onion.ts';

const skip = needRoot() || needPrograms('postfix', 'postconf', 'postqueue', 'sendmail', 'torsocks');

const ONION = onionFromPublicKey(ed25519.getPublicKey(new Uint8Array(32).fill(21)));
const DOMAIN = 'torsocks.example';
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the torsocks alternative: Postfix smtp under torsocks, the Tor stand-in', { skip }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  let onionSink: Sink;
  let clearSink: Sink;
  let tor: FakeTor;
  let receiver: OnionPostfix;
  let daemon: DaemonProcess;

  before(async () => {
    const temp = tempDirUntilEnd('onionmx-pf-torsocks-');
    cleanups.push(() => temp.remove());
    onionSink = await startSink();
    cleanups.push(() => onionSink.close());
    clearSink = await startSink();
    cleanups.push(() => clearSink.close());
    tor = await startFakeTor({ routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: onionSink.port } } });
    cleanups.push(() => tor.close());
    const alternative = await installTorsocksAlternative(tor.port);
    cleanups.push(() => alternative.remove());
    receiver = await startOnionPostfix({
      mainCf: { ...alternative.mainCf, default_transport: 'smtp', relayhost: sinkNexthop(clearSink.port) },
      masterCf: alternative.masterCf,
      files: alternative.files,
    });
    cleanups.push(() => receiver.stop());
    const pins = join(temp.path, 'pins.yml');
    writeFileSync(pins, `${DOMAIN}: ${ONION}\n`);
    const configPath = join(temp.path, 'config.yml');
    writeFileSync(
      configPath,
      exampleConfig({
        'milter.listen': receiver.milterListen,
        'milter.submission_listen': receiver.submissionListen,
        'header.transport': 'smtptor',
        'relay.listen': null,
        'relay.postfix_nexthop': null,
        maps: [pins],
        bundled_map: false,
        'srv.enabled': false,
        'tor.socks': `127.0.0.1:${tor.port}`,
      }),
    );
    daemon = await startDaemon(configPath);
    cleanups.push(() => daemon.kill());
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('delivers onion mail through smtptor: FILTER smtptor:[<onion>]:25, a hostname SOCKS CONNECT by torsocks, the header stripped', async () => {
    const pf = receiver.pf;
    const rcpt = `bob@${DOMAIN}`;
    const qid = queueIdOf(await sendSmtp(pf.smtpPort, { from: 'alice@sender.example', to: [rcpt], message: buildMessage([['Subject', 'via torsocks']]) }));
    const m = await onionSink.waitForMessage((x) => headerValues(x.data, 'Subject')[0] === 'via torsocks');
    assert.deepEqual(m.to, [rcpt]);
    assert.deepEqual(headerValues(m.data, 'X-Onion-Route'), []);
    await pf.waitForLog(new RegExp(`${qid}: milter-header-filter: header X-Onion-Route: [^\\n]*: smtptor:\\[${escape(ONION)}\\]:25\\n`));
    // The bracketed address is torsocks' stand-in for the onion name (OnionAddrRange).
    await pf.waitForLog(new RegExp(`${qid}: to=<${escape(rcpt)}>, relay=${escape(ONION)}\\[127\\.42\\.42\\.[0-9]+\\]:25, .*status=sent`));
    assert.deepEqual(
      tor.requests.map((r) => [r.command, r.atyp, r.destination]),
      [['connect', 3, `${ONION}:25`]],
      'torsocks sent the onion name, not its cookie address',
    );
    assert.equal(clearSink.messages.length, 0);
    await pf.waitForEmptyQueue();
  });
});
