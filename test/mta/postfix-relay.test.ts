// check-relay against a real Postfix. One instance, one smtpd service per configuration, each on
// its own loopback port (as an onion-facing smtpd would be): the harness's default service keeps
// Postfix's default mynetworks (127.0.0.0/8), the classic OnionMX open relay. Every relay is routed
// to our sink, which must stay empty: the audit never sends DATA.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { startPostfix, sinkNexthop, type PostfixInstance } from '../helpers/postfix.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { runCli } from '../cli/cli-helpers.ts';
import { freePort } from '../helpers/ports.ts';

const skip = needRoot() || needPrograms('postfix', 'postconf', 'postqueue', 'sendmail');

interface Report {
  verdict: string;
  reasons: string[];
  extensions: string[];
  attempts: { name: string; outcome: string; stage: string; reply: string }[];
  transcript: { direction: string; text: string }[];
}


/** The onion-facing smtpd service of examples/postfix/master.cf, moved to `port`. */
function exampleOnionSmtpd(port: number): string {
  const text = readFileSync(fileURLToPath(new URL('../../../examples/postfix/master.cf', import.meta.url)), 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('127.0.0.1:2525 '));
  assert.ok(start >= 0, 'examples/postfix/master.cf has no 127.0.0.1:2525 service');
  const block = [lines[start] ?? ''];
  for (const l of lines.slice(start + 1)) {
    if (!/^\s+-o /.test(l)) break;
    block.push(l);
  }
  return block.join('\n').replace('127.0.0.1:2525 ', `127.0.0.1:${port} `);
}

/** An onion-facing smtpd on its own port: no loopback in mynetworks, its own relay restrictions. */
const onionSmtpd = (port: number, options: string): string => `127.0.0.1:${port} inet n - n - - smtpd -o mynetworks=192.0.2.0/24 ${options}`;

describe('check-relay against a real Postfix', { skip }, () => {
  let sink: Sink;
  let pf: PostfixInstance;
  const ports = { safe: 0, defer: 0, refuseAll: 0, xclient: 0, example: 0 };

  before(async () => {
    sink = await startSink();
    ports.safe = await freePort();
    ports.defer = await freePort();
    ports.refuseAll = await freePort();
    ports.xclient = await freePort();
    ports.example = await freePort();
    pf = await startPostfix({
      // default_transport smtp + relayhost: any relayed mail would go to the sink (never off the machine).
      mainCf: { mydestination: 'postfix.test', relayhost: sinkNexthop(sink.port), default_transport: 'smtp' },
      masterCf: [
        onionSmtpd(ports.safe, '-o smtpd_relay_restrictions=reject_unauth_destination'),
        onionSmtpd(ports.defer, '-o smtpd_relay_restrictions=defer_unauth_destination'),
        onionSmtpd(ports.refuseAll, '-o smtpd_relay_restrictions=reject'),
        onionSmtpd(ports.xclient, '-o smtpd_relay_restrictions=reject_unauth_destination -o smtpd_authorized_xclient_hosts=127.0.0.1'),
        exampleOnionSmtpd(ports.example),
      ].join('\n'),
    });
  });
  after(async () => {
    await pf.stop();
    await sink.close();
  });

  async function audit(port: number, ...extra: string[]): Promise<{ status: number | null; report: Report }> {
    const r = await runCli(['check-relay', '--smtp', `127.0.0.1:${port}`, '--json', '--timeout', '10s', ...extra]);
    assert.equal(r.stderr, '');
    const report = JSON.parse(r.stdout) as Report;
    assert.ok(!report.transcript.some((t) => t.direction === 'C' && /^(DATA|BDAT)\b/i.test(t.text)), 'DATA was sent');
    assert.ok(report.transcript.some((t) => t.direction === 'C' && t.text === 'QUIT'), 'no QUIT');
    return { status: r.status, report };
  }

  test('safe: reject_unauth_destination, no loopback in mynetworks -> PASS (exit 0), every trick refused with 5xx', async () => {
    const { status, report } = await audit(ports.safe, '--local', 'postmaster@postfix.test');
    assert.equal(report.verdict, 'PASS', JSON.stringify(report, null, 2));
    assert.equal(status, 0);
    assert.deepEqual(
      report.attempts.map((a) => [a.name, a.outcome]),
      [
        ['local-recipient', 'accepted'],
        ['plain', 'refused'],
        ['forged-local-sender', 'refused'],
        ['percent-hack', 'refused'],
        ['source-route', 'refused'],
        ['quoted-local-part', 'refused'],
        ['bang-path', 'refused'],
      ],
    );
    for (const a of report.attempts.slice(1)) assert.match(a.reply, /^554 5\.7\.1 .*Relay access denied/, a.name);
  });

  test('safe without --local: the tricks use the greeting host name and it still passes, with a note', async () => {
    const { status, report } = await audit(ports.safe);
    assert.equal(status, 0);
    assert.equal(report.attempts.length, 6);
    assert.ok(report.reasons.some((r) => r.includes('no --local recipient given')));
  });

  test('defer_unauth_destination -> INCONCLUSIVE (exit 2): 4xx proves nothing', async () => {
    const { status, report } = await audit(ports.defer, '--local', 'postmaster@postfix.test');
    assert.equal(report.verdict, 'INCONCLUSIVE', JSON.stringify(report, null, 2));
    assert.equal(status, 2);
    assert.ok(report.attempts.filter((a) => a.name !== 'local-recipient').every((a) => a.outcome === 'temporary' && a.reply.startsWith('4')));
  });

  test('default mynetworks with 127.0.0.1 (the harness smtpd) -> FAIL (exit 1)', async () => {
    const { status, report } = await audit(pf.smtpPort, '--local', 'postmaster@postfix.test');
    assert.equal(report.verdict, 'FAIL', JSON.stringify(report, null, 2));
    assert.equal(status, 1);
    const plain = report.attempts.find((a) => a.name === 'plain');
    assert.equal(plain?.outcome, 'accepted');
    assert.ok(report.reasons.some((r) => r.startsWith('plain: relay recipient onionmx-relay-audit@example.net accepted')));
  });

  test('a listener that refuses everything, the local recipient too, is INCONCLUSIVE, not PASS', async () => {
    const { status, report } = await audit(ports.refuseAll, '--local', 'postmaster@postfix.test');
    assert.equal(report.verdict, 'INCONCLUSIVE');
    assert.equal(status, 2);
    assert.ok(report.reasons.some((r) => r.includes('refuses everything')));
  });

  test('a listener that advertises XCLIENT to loopback -> FAIL although it refuses every relay', async () => {
    const { status, report } = await audit(ports.xclient, '--local', 'postmaster@postfix.test');
    assert.ok(report.extensions.includes('XCLIENT'));
    assert.ok(report.attempts.filter((a) => a.name !== 'local-recipient').every((a) => a.outcome === 'refused'));
    assert.equal(report.verdict, 'FAIL');
    assert.equal(status, 1);
  });

  test('the onion-facing smtpd shipped in examples/postfix/master.cf passes', async () => {
    const { status, report } = await audit(ports.example, '--local', 'postmaster@postfix.test');
    assert.equal(report.verdict, 'PASS', JSON.stringify(report, null, 2));
    assert.equal(status, 0);
  });

  test('nothing reached the sink and nothing is queued', async () => {
    assert.deepEqual(sink.messages, []);
    assert.deepEqual(await pf.queue(), []);
  });
});
