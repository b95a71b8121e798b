// The relay as the daemon runs it, end to end in process: an MTA-side client on the LMTP (and
// SMTP) listener -> the daemon's resolver (pinned maps) -> the upstream half -> the Tor stand-in
// -> the SMTP sink. Per-recipient outcomes with a remote 550, Tor F2 and F6 per recipient, the
// routing header stripped, a byte-exact 8-bit SMTPUTF8 message with its DSN parameters, session
// reuse, zero SOCKS requests for bad input, a route removed by reload, metrics and /healthz.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon/daemon.ts';
import { parseConfigText } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { samples } from '../helpers/prometheus.ts';
import { A, B, C, captureLog, crlf, rawClient, type RawClient } from './relay-fixtures.ts';

const D = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';

describe('relay in the daemon, through the Tor stand-in to a sink', () => {
  let dir: string;
  let sink: Sink;
  let tor: FakeTor;
  let daemon: Daemon;
  let lmtpPort: number;
  let smtpPort: number;
  const { log, lines } = captureLog();

  const configText = (pins: string): string => `
milter: {listen: "inet:127.0.0.1:0"}
maps: [${join(dir, pins)}]
bundled_map: false
srv: {enabled: false}
tor: {socks: "127.0.0.1:${tor.port}", connect_timeout: 10s}
relay:
  listen: inet:127.0.0.1:0
  smtp_listen: inet:127.0.0.1:0
  helo_name: relay.test
  timeouts: {greeting: 10s, mail: 10s, rcpt: 10s, data_init: 10s, data_block: 10s, data_done: 10s}
`;

  const load = (text: string): Config => {
    const r = parseConfigText(text, 'relay.yml');
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    return r.config;
  };

  const lmtp = async (): Promise<RawClient> => {
    const c = await rawClient({ port: lmtpPort });
    c.send(crlf('LHLO mta.test'));
    await c.codes(1);
    return c;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-daemon-'));
    sink = await startSink({
      capabilities: { pipelining: true, eightBitMime: true, smtpUtf8: true, dsn: true, enhancedStatusCodes: true, size: 0 },
      rcptReply: (to) => (to.startsWith('gone@') ? '550 5.1.1 <gone@one.example>: no such user' : undefined),
    });
    const target = { host: '127.0.0.1', port: sink.port };
    tor = await startFakeTor({ routes: { [`${A}:25`]: target, [`${B}:25`]: target }, replies: { [C]: { kind: 'fail', rep: 0xf2 }, [D]: { kind: 'fail', rep: 0xf6 } } });
    await writeFile(join(dir, 'pins.yml'), `one.example: ${A}\ntwo.example: ${B}\nf2.example: ${C}\nf6.example: ${D}\n`);
    await writeFile(join(dir, 'fewer.yml'), `two.example: ${B}\n`);
    daemon = new Daemon(load(configText('pins.yml')), log);
    const listeners = await daemon.start();
    lmtpPort = Number(/:(\d+)$/.exec(listeners.relay.lmtp ?? '')?.[1]);
    smtpPort = Number(/:(\d+)$/.exec(listeners.relay.smtp ?? '')?.[1]);
  });

  after(async () => {
    await daemon.close(2000);
    await tor.close();
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers one of two recipients and passes the remote 550 for the other, with the routing header stripped', async () => {
    const c = await lmtp();
    c.send(crlf('XFORWARD IDENT=QID1', 'MAIL FROM:<s@example.org>', 'RCPT TO:<gone@one.example>', 'RCPT TO:<here@one.example>', 'DATA'));
    assert.deepEqual(await c.codes(5, 2), ['250 2.0.0', '250 2.1.0', '550 5.1.1', '250 2.1.5', '354']);
    c.send(crlf('X-Onion-Route: smtptor:[x.onion]:25', 'Subject: first', '', 'hello', '.', 'QUIT'));
    assert.deepEqual(await c.codes(2, 7), ['250 2.0.0', '221 2.0.0'], 'one final reply: one accepted recipient');
    const m = await sink.waitForMessage((x) => x.data.includes('Subject: first'));
    assert.deepEqual(m.to, ['here@one.example']);
    assert.equal(m.data, 'Subject: first\r\n\r\nhello\r\n');
    const line = lines.find((l) => l['msg'] === 'relay delivery' && l['qid'] === 'QID1');
    assert.deepEqual((line?.['recipients'] as { outcome: string }[]).map((r) => r.outcome), ['bounced', 'delivered']);
  });

  it("answers Tor's F2 with a temporary and F6 with a permanent refusal, per recipient", async () => {
    const c = await lmtp();
    c.send(crlf('MAIL FROM:<s@example.org>', 'RCPT TO:<a@f2.example>', 'RCPT TO:<b@f6.example>', 'RCPT TO:<c@two.example>', 'DATA'));
    const codes = await c.codes(5, 2);
    assert.equal(codes[1]?.slice(0, 5), '451 4');
    assert.deepEqual([codes[2], codes[3], codes[4]], ['550 5.1.2', '250 2.1.5', '354']);
    assert.match(c.replies[3]?.lines.join(' ') ?? '', /F2/);
    c.send(crlf('Subject: tor', '', 'x', '.', 'QUIT'));
    assert.deepEqual(await c.codes(2, 7), ['250 2.0.0', '221 2.0.0']);
    const text = await daemon.metrics.text();
    const s = samples(text);
    assert.equal(s.get('onionmx_relay_tor_errors_total{code="F2"}'), 1);
    assert.equal(s.get('onionmx_relay_tor_errors_total{code="F6"}'), 1);
  });

  it('delivers an 8-bit SMTPUTF8 message byte for byte with its DSN parameters', async () => {
    const body = Buffer.concat([
      Buffer.from('From: jörg@example.org\r\nTo: zoë@one.example\r\nSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n', 'utf8'),
      Buffer.from('Grüße, ½ € ✓\r\n.leading dot\r\n\u00a0\r\n', 'utf8'),
      Buffer.from([0xc3, 0xa9, 0x0d, 0x0a]),
    ]);
    const stuffed = Buffer.from(body.toString('latin1').replace(/^\./gm, '..'), 'latin1');
    const c = await lmtp();
    c.send(crlf('MAIL FROM:<jörg@example.org> SMTPUTF8 BODY=8BITMIME RET=HDRS ENVID=env+2B1', 'RCPT TO:<zoë@one.example> NOTIFY=SUCCESS,FAILURE ORCPT=utf-8;zoë@one.example', 'DATA'));
    assert.deepEqual(await c.codes(3, 2), ['250 2.1.0', '250 2.1.5', '354']);
    c.send(Buffer.concat([stuffed, Buffer.from('.\r\nQUIT\r\n')]));
    const m = await sink.waitForMessage((x) => x.from === 'jörg@example.org');
    assert.ok(m.bytes.equals(body), 'the sink has the message byte for byte');
    assert.deepEqual(m.mailParams.slice().sort(), ['BODY=8BITMIME', 'ENVID=env+2B1', 'RET=HDRS', 'SMTPUTF8']);
    assert.deepEqual(m.recipients, [{ address: 'zoë@one.example', params: ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=utf-8;zoë@one.example'] }]);
  });

  it('reuses the upstream session for the next message to the same onion', async () => {
    const before = tor.connects(`${B}:25`);
    for (const subject of ['reuse 1', 'reuse 2']) {
      const c = await rawClient({ port: smtpPort });
      c.send(crlf('EHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<r@two.example>', 'DATA'));
      assert.deepEqual(await c.codes(4), ['250', '250 2.1.0', '250 2.1.5', '354']);
      c.send(crlf(`Subject: ${subject}`, '', 'x', '.', 'QUIT'));
      assert.deepEqual(await c.codes(2, 5), ['250 2.0.0', '221 2.0.0']);
      await c.closed;
    }
    assert.ok(tor.connects(`${B}:25`) - before <= 1, 'at most one new Tor stream for both messages');
    const s = samples(await daemon.metrics.text());
    assert.ok((s.get('onionmx_relay_upstream_sessions_total{kind="reused"}') ?? 0) >= 1);
    assert.ok((s.get('onionmx_relay_deliveries_total{listener="smtp",outcome="delivered"}') ?? 0) >= 2, [...s].filter(([k]) => k.startsWith('onionmx_relay')).join('\n'));
  });

  it('makes no SOCKS request for bad input or recipients without an onion route', async () => {
    const before = tor.requests.length;
    const c = await rawClient({ port: lmtpPort });
    c.send(`GARBAGE\r\nLHLO x\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@clear.example>\r\nRCPT TO:<u@[127.0.0.1]>\r\nRCPT TO:<bad\nDATA\r\n${'x'.repeat(5000)}\r\nRSET\r\nQUIT\r\n`);
    assert.deepEqual(await c.codes(9), ['500 5.5.1', '250', '250 2.1.0', '451 4.4.4', '550 5.1.2', '500 5.5.2', '503 5.5.1', '500 5.5.2', '250 2.0.0']);
    await c.closed;
    assert.equal(tor.requests.length, before);
  });

  it('defers a recipient whose route a reload removed, without any connection', async () => {
    await daemon.reload(load(configText('fewer.yml')));
    const before = tor.requests.length;
    const c = await lmtp();
    c.send(crlf('MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'QUIT'));
    assert.deepEqual(await c.codes(3, 2), ['250 2.1.0', '451 4.4.4', '221 2.0.0']);
    assert.match(c.replies[3]?.lines[0] ?? '', /never delivers over the clearnet/);
    assert.equal(tor.requests.length, before);
    await daemon.reload(load(configText('pins.yml')));
  });

  it('reports the relay in /healthz and its gauges in the metrics', async () => {
    const health = daemon.healthReport();
    const relay = health['relay'] as { listeners: Record<string, string>; connectionsOpen: number; upstreamSessionsOpen: number };
    assert.deepEqual(Object.keys(relay.listeners).sort(), ['lmtp', 'smtp']);
    assert.equal(typeof relay.upstreamSessionsOpen, 'number');
    const text = await daemon.metrics.text();
    for (const name of ['onionmx_relay_connections_open', 'onionmx_relay_upstream_sessions_open', 'onionmx_relay_delivery_duration_seconds_count', 'onionmx_relay_upstream_sessions_total', 'onionmx_relay_deliveries_total']) {
      assert.ok(text.includes(name), name);
    }
  });
});
