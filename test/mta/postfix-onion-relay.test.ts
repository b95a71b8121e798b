// The relay's proofs on a real Postfix (issue 11): Postfix built from examples/postfix (smtpd,
// cleanup and the onionrelay lmtp client chrooted), `onionmx-milter serve` from examples/config.yml
// with its relay on the socket the FILTER names, the Tor stand-in (fake-tor.ts, Tor's error codes
// on demand) and SMTP sinks: one behind every routed onion, one as the clearnet relayhost.
//
//   Postfix smtpd -> milter tags -> FILTER onionrelay:unix:/onionmx/relay.sock -> lmtp
//     -> the daemon's relay -> SOCKS5 -> fake Tor -> onion sink
//
// Header mode (examples/postfix/main.cf) and table mode (transport_maps asking the daemon's socketmap,
// as examples/postfix/transport-lookup.cf) are both on, as an operator may run them; a second smtpd
// without milters shows the table mode alone. Routes come from a pinned map (no DNS). The onion sink's final replies are scripted per Subject,
// one per attempt, so a test decides which attempt is refused or left hanging. Every wait is on an
// event (a sink message or final dot, a Postfix or daemon log line, the queue); no timing is
// asserted. Mail a test leaves deferred is deleted at its end, so Postfix's retries never reach
// the next test.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ed25519 } from '@noble/curves/ed25519.js';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { sinkNexthop, type PostfixInstance } from '../helpers/postfix.ts';
import { startSink, type Sink, type SinkMessage, type SinkReply } from '../helpers/smtp-sink.ts';
import { dataSection, openSmtp, sendSmtp, type TransactionResult } from '../helpers/smtp-client.ts';
import { buildMessage, headerValues, utf8Message } from '../helpers/smtp-message.ts';
import { startFakeTor, type FakeTor, type FakeTorOptions } from '../helpers/fake-tor.ts';
import { tempDirUntilEnd } from '../helpers/process-end.ts';
import { EXAMPLES_POSTFIX, queueIdOf, startOnionPostfix, type OnionPostfix } from '../helpers/e2e-postfix.ts';
import { exampleConfig, startDaemon, type DaemonProcess } from '../helpers/e2e-daemon.ts';
import { onionFromPublicKey } from '../../src/resolve/onion.ts';
import { freePort } from '../helpers/ports.ts';

const run = promisify(execFile);

const skip = needRoot() || needPrograms('postfix', 'postconf', 'postqueue', 'postsuper', 'postmap', 'sendmail');

const onion = (seed: number): string => onionFromPublicKey(ed25519.getPublicKey(new Uint8Array(32).fill(seed)));
const ONION = onion(11);
/** Tor answers these with its extended error codes. */
const TOR_FAILS = { F4: onion(12), F2: onion(13), F7: onion(14), F6: onion(15) } as const;
const DOMAIN = 'onion.example';
/** Its onion's server stops reading after DATA, so a big message backs up into the relay and Postfix. */
const STALL_ONION = onion(16);
const STALL_DOMAIN = 'stall.example';
/** Pinned while its mail is received, unpinned before that mail is delivered. */
const GONE_DOMAIN = 'gone.example';
const HELD = `held@${GONE_DOMAIN}`;
const CLEAR_DOMAIN = 'clear.example';
const RELAY_NEXTHOP = 'onionrelay:unix:/onionmx/relay.sock';
const MB = 1024 * 1024;

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const subjectOf = (m: SinkMessage): string | undefined => headerValues(m.data, 'Subject')[0];

describe('Postfix delivers onion mail through the relay (real Postfix, the daemon, the Tor stand-in)', { skip, timeout: 300_000 }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  let dir: string;
  let configPath: string;
  let pinsPath: string;
  let onionSink: Sink;
  let clearSink: Sink;
  let stallSink: Sink;
  let tor: FakeTor;
  let torOptions: FakeTorOptions;
  let receiver: OnionPostfix;
  let pf: PostfixInstance;
  let daemon: DaemonProcess;
  let socketmapPort: number;
  /** An smtpd without milters: routing by transport_maps alone. */
  let tableSmtpdPort: number;
  let serial = 0;
  const subject = (label: string): string => `${label} #${++serial}`;
  /** Final replies for the onion sink, per Subject, one per attempt; none left: 250. */
  const finalReplies = new Map<string, SinkReply[]>();
  const finalDots = new Map<string, number>();
  const accepted = (s: string): SinkMessage[] => onionSink.messages.filter((m) => subjectOf(m) === s);

  const pins = (withGone: boolean): string =>
    [`${DOMAIN}: ${ONION}`, `${STALL_DOMAIN}: ${STALL_ONION}`, ...Object.entries(TOR_FAILS).map(([code, o]) => `${code.toLowerCase()}.example: ${o}`), ...(withGone ? [`${GONE_DOMAIN}: ${ONION}`] : [])].join('\n') + '\n';

  const config = (overrides: Readonly<Record<string, unknown>> = {}): string =>
    exampleConfig({
      'milter.listen': receiver.milterListen,
      'milter.submission_listen': receiver.submissionListen,
      'relay.listen': receiver.relayListen,
      'lookup.socketmap': `inet:127.0.0.1:${socketmapPort}`,
      maps: [pinsPath],
      bundled_map: false,
      'srv.enabled': false,
      'tor.socks': `127.0.0.1:${tor.port}`,
      'tor.connect_timeout': '30s',
      'relay.timeouts': { greeting: '30s', mail: '30s', rcpt: '30s', data_init: '30s', data_block: '30s', data_done: '30s' },
      ...overrides,
    });

  /** Rewrites the config (and pins), SIGHUPs the daemon and waits until it took the new one. */
  async function reload(withGone: boolean, overrides: Readonly<Record<string, unknown>> = {}): Promise<void> {
    writeFileSync(pinsPath, pins(withGone));
    writeFileSync(configPath, config(overrides));
    const mark = daemon.mark();
    daemon.child.kill('SIGHUP');
    await daemon.waitFor(/configuration reloaded/, { since: mark });
  }

  const send = (to: readonly string[], s: string, body?: string, port = pf.smtpPort): Promise<TransactionResult> =>
    sendSmtp(port, { from: 'alice@sender.example', to, message: buildMessage([['Subject', s]], body) });

  /** Postfix's delivery line for a recipient of a queue id, from the onionrelay lmtp client. */
  const deliveryLine = (qid: string, rcpt: string, status: string, since?: number): Promise<RegExpExecArray> =>
    pf.waitForLog(new RegExp(`${qid}: to=<${escape(rcpt)}>, relay=[^,]*/onionmx/relay\\.sock[^,]*, .*status=${status} \\(([^\\n]*)\\)\\n`), since === undefined ? {} : { since });

  const discard = async (qid: string): Promise<void> => {
    await run('postsuper', ['-c', pf.configDir, '-d', qid]);
  };

  before(async () => {
    const temp = tempDirUntilEnd('onionmx-pf-relay-');
    dir = temp.path;
    cleanups.push(() => temp.remove());
    configPath = join(dir, 'config.yml');
    pinsPath = join(dir, 'pins.yml');
    onionSink = await startSink({
      capabilities: { pipelining: true, eightBitMime: true, smtpUtf8: true, dsn: true, enhancedStatusCodes: true, size: 0 },
      rcptReply: (to) => (to.startsWith('gone@') ? `550 5.1.1 <${to}>: no such user` : undefined),
      dataEndReply: (m) => {
        const s = subjectOf(m) ?? '';
        finalDots.set(s, (finalDots.get(s) ?? 0) + 1);
        return finalReplies.get(s)?.shift();
      },
    });
    cleanups.push(() => onionSink.close());
    clearSink = await startSink();
    cleanups.push(() => clearSink.close());
    stallSink = await startSink({ stallData: true });
    cleanups.push(() => stallSink.close());
    torOptions = {
      routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: onionSink.port }, [`${STALL_ONION}:25`]: { host: '127.0.0.1', port: stallSink.port } },
      replies: Object.fromEntries(Object.entries(TOR_FAILS).map(([code, o]) => [o, { kind: 'fail', rep: Number.parseInt(code, 16) }])),
    };
    tor = await startFakeTor(torOptions);
    cleanups.push(() => tor.close());
    socketmapPort = await freePort();
    tableSmtpdPort = await freePort();
    const lookupCf = readFileSync(join(EXAMPLES_POSTFIX, 'transport-lookup.cf'), 'utf8');
    assert.match(lookupCf, /^transport_maps = .*socketmap:inet:127\.0\.0\.1:8896:transport$/m);
    receiver = await startOnionPostfix({
      masterCf: `127.0.0.1:${tableSmtpdPort} inet n - y - - smtpd -o syslog_name=postfix/table -o smtpd_milters=`,
      mainCf: {
        transport_maps: `socketmap:inet:127.0.0.1:${socketmapPort}:transport`,
        // Everything the milter does not tag (here: bounces to the sender) goes the clearnet way.
        default_transport: 'smtp',
        relayhost: sinkNexthop(clearSink.port),
        message_size_limit: String(60 * MB),
        // Test-only: hold one address's mail, so its route can vanish between queueing and delivery.
        smtpd_recipient_restrictions: `check_recipient_access inline:{ ${HELD}=HOLD }`,
      },
    });
    cleanups.push(() => receiver.stop());
    pf = receiver.pf;
    writeFileSync(pinsPath, pins(true));
    writeFileSync(configPath, config());
    daemon = await startDaemon(configPath);
    cleanups.push(() => daemon.kill());
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('1. onion mail is delivered: lmtp to the relay, SOCKS by name through the Tor stand-in, no torsocks anywhere', async () => {
    const master = await pf.postconf('-M');
    assert.doesNotMatch(master, /torsocks|smtp_tor/);
    assert.match(master, /^onionrelay +unix .* lmtp/m);
    assert.doesNotMatch(readFileSync(join(EXAMPLES_POSTFIX, 'master.cf'), 'utf8'), /torsocks|smtp_tor/);
    const s = subject('plain');
    const qid = queueIdOf(await send([`bob@${DOMAIN}`], s));
    const m = await onionSink.waitForMessage((x) => subjectOf(x) === s);
    assert.deepEqual(m.to, [`bob@${DOMAIN}`]);
    assert.deepEqual(headerValues(m.data, 'X-Onion-Route'), [], 'the routing header never leaves the host');
    assert.match((await deliveryLine(qid, `bob@${DOMAIN}`, 'sent'))[1] ?? '', /^250 2\.0\.0 /);
    await pf.waitForLog(new RegExp(`${qid}: milter-header-filter: header X-Onion-Route: [^\\n]*: onionrelay:unix:/onionmx/relay\\.sock\\n`));
    const connect = tor.requests.find((r) => r.destination === `${ONION}:25`);
    assert.equal(connect?.atyp, 3, 'a CONNECT by onion name');
    assert.ok(connect.username !== undefined && connect.username !== '', 'with an isolation username');
    const line = await daemon.waitFor(/^relay delivery$/, { where: (l) => l['qid'] === qid });
    assert.deepEqual((line['recipients'] as { outcome: string }[]).map((r) => r.outcome), ['delivered']);
    await pf.waitForEmptyQueue();
  });

  it('1b. table mode: transport_maps answers the same relay nexthop, and Postfix delivers each recipient on its own way', async () => {
    const postmap = (key: string) => run('postmap', ['-c', pf.configDir, '-q', key, `socketmap:inet:127.0.0.1:${socketmapPort}:transport`]);
    assert.equal((await postmap(`x@${DOMAIN}`)).stdout, `${RELAY_NEXTHOP}\n`);
    await assert.rejects(postmap(`x@${CLEAR_DOMAIN}`), 'not found: the default route');
    const s = subject('table mode');
    const qid = queueIdOf(await send([`tina@${DOMAIN}`, `tom@${CLEAR_DOMAIN}`], s, undefined, tableSmtpdPort));
    const m = await onionSink.waitForMessage((x) => subjectOf(x) === s);
    assert.deepEqual(m.to, [`tina@${DOMAIN}`]);
    assert.deepEqual(headerValues(m.data, 'X-Onion-Route'), [], 'no milter here: the relay routed the recipient itself');
    const clear = await clearSink.waitForMessage((x) => subjectOf(x) === s);
    assert.deepEqual(clear.to, [`tom@${CLEAR_DOMAIN}`]);
    await deliveryLine(qid, `tina@${DOMAIN}`, 'sent');
    await pf.waitForEmptyQueue();
    assert.equal(accepted(s).length, 1);
  });

  it('2. the onion refuses one of two recipients with 550: that one bounces, the other is delivered once', async () => {
    const s = subject('one refused');
    const qid = queueIdOf(await send([`gone@${DOMAIN}`, `here@${DOMAIN}`], s));
    assert.match((await deliveryLine(qid, `gone@${DOMAIN}`, 'bounced'))[1] ?? '', /said: 550 5\.1\.1 <gone@onion\.example>: no such user \(in reply to RCPT TO command\)/);
    assert.match((await deliveryLine(qid, `here@${DOMAIN}`, 'sent'))[1] ?? '', /^250 /);
    await pf.waitForEmptyQueue();
    assert.deepEqual(accepted(s).map((m) => m.to), [[`here@${DOMAIN}`]]);
    // The bounce went to the sender, the clearnet way; the onion got nothing more.
    await clearSink.waitForMessage((m) => m.from === '' && m.to.includes('alice@sender.example') && m.data.includes(`gone@${DOMAIN}`));
    assert.equal(finalDots.get(s), 1);
  });

  it('3. the onion answers 451 after the message: deferred, delivered at the retry, no duplicate', async () => {
    const s = subject('retry');
    finalReplies.set(s, ['451 4.3.0 try again later']);
    const qid = queueIdOf(await send([`carol@${DOMAIN}`], s));
    assert.match((await deliveryLine(qid, `carol@${DOMAIN}`, 'deferred'))[1] ?? '', /said: 451 4\.3\.0 try again later \(in reply to end of DATA command\)/);
    assert.equal(accepted(s).length, 0);
    await pf.flush();
    await onionSink.waitForMessage((m) => subjectOf(m) === s);
    await deliveryLine(qid, `carol@${DOMAIN}`, 'sent');
    await pf.waitForEmptyQueue();
    assert.equal(accepted(s).length, 1);
    assert.equal(finalDots.get(s), 2);
  });

  it("4. Tor's F4, F2, F7 defer with Tor's reason in Postfix's log; F6 bounces with 5.1.2", async () => {
    const expected = { F4: /451 4\.3\.5 .*ClientOnionAuthDir \[Tor code F4\]/, F2: /451 4\.4\.1 .*\[Tor code F2\]/, F7: /451 4\.4\.1 .*\[Tor code F7\]/ };
    for (const [code, reason] of Object.entries(expected)) {
      const rcpt = `dave@${code.toLowerCase()}.example`;
      const qid = queueIdOf(await send([rcpt], subject(`tor ${code}`)));
      const [, text = ''] = await deliveryLine(qid, rcpt, 'deferred');
      assert.match(text, reason);
      assert.match(text, /\(in reply to RCPT TO command\)$/);
      await discard(qid);
    }
    const rcpt = 'erin@f6.example';
    const qid = queueIdOf(await send([rcpt], subject('tor F6')));
    const [, text = ''] = await deliveryLine(qid, rcpt, 'bounced');
    assert.match(text, /said: 550 5\.1\.2 .*\[Tor code F6\]/);
    await pf.waitForEmptyQueue();
    for (const o of Object.values(TOR_FAILS)) assert.ok(tor.connects(`${o}:25`) >= 1, o);
  });

  it('6. the onion hangs after the message: the relay times out (relay.timeouts.data_done), Postfix defers, and delivers once at the retry', async () => {
    await reload(true, { 'relay.timeouts': { greeting: '30s', mail: '30s', rcpt: '30s', data_init: '30s', data_block: '30s', data_done: '2s' } });
    try {
      const s = subject('hang');
      finalReplies.set(s, [{ hang: true }]);
      const qid = queueIdOf(await send([`frank@${DOMAIN}`], s));
      const [, text = ''] = await deliveryLine(qid, `frank@${DOMAIN}`, 'deferred');
      assert.match(text, /said: 451 4\.4\.2 /);
      assert.equal(accepted(s).length, 0);
      await reload(true);
      await pf.flush();
      await deliveryLine(qid, `frank@${DOMAIN}`, 'sent');
      await pf.waitForEmptyQueue();
      assert.equal(accepted(s).length, 1);
      assert.equal(finalDots.get(s), 2);
    } finally {
      await reload(true);
    }
  });

  it('7. a recipient whose route a SIGHUP removed is deferred at delivery, with no SOCKS request and no clearnet connection', async () => {
    const s = subject('route gone');
    const qid = queueIdOf(await send([HELD], s));
    assert.equal((await pf.queue()).find((q) => q.queueId === qid)?.queueName, 'hold');
    await reload(false);
    try {
      const socksBefore = tor.requests.length;
      const clearBefore = clearSink.connectionCount;
      const mark = await pf.logMark();
      await run('postsuper', ['-c', pf.configDir, '-H', qid]);
      await pf.flush();
      const [, text = ''] = await deliveryLine(qid, HELD, 'deferred', mark);
      assert.match(text, /said: 451 4\.4\.4 No onion route for gone\.example at delivery time .*never delivers over the clearnet/);
      assert.equal(tor.requests.length, socksBefore, 'no SOCKS request');
      assert.equal(clearSink.connectionCount, clearBefore, 'no connection to the clearnet sink');
      assert.equal(accepted(s).length, 0);
      await discard(qid);
    } finally {
      await reload(true);
    }
  });

  it('8. an 8-bit SMTPUTF8 message with DSN parameters reaches the onion byte for byte, parameters passed on', async () => {
    const s = subject('utf8');
    const rcpt = `zoë@${DOMAIN}`;
    const message = utf8Message('jörg@example.org', rcpt, s, 'utf8-test@example.org');
    const session = await openSmtp(pf.smtpPort);
    try {
      await session.ehlo();
      assert.equal((await session.command('MAIL FROM:<jörg@example.org> SMTPUTF8 BODY=8BITMIME RET=HDRS ENVID=env+2B1')).code, 250);
      assert.equal((await session.command(`RCPT TO:<${rcpt}> NOTIFY=SUCCESS,FAILURE ORCPT=utf-8;${rcpt}`)).code, 250);
      assert.equal((await session.command('DATA')).code, 354);
      // dataSection ends with the final `.` line; command() adds the last CRLF.
      const final = await session.command(dataSection(message).replace(/\r\n$/, ''));
      assert.equal(final.code, 250, final.raw);
    } finally {
      await session.quit();
    }
    const m = await onionSink.waitForMessage((x) => subjectOf(x) === s);
    const sent = Buffer.from(message, 'utf8');
    assert.ok(m.bytes.subarray(m.bytes.length - sent.length).equals(sent), `the message arrived byte for byte:\n${m.bytes.toString('utf8')}`);
    const added = m.bytes.subarray(0, m.bytes.length - sent.length).toString('utf8');
    assert.match(added, /^Received: [^\r\n]*(\r\n[ \t][^\r\n]*)*\r\n$/, `only Postfix's Received header was added:\n${added}`);
    assert.equal(m.from, 'jörg@example.org');
    // Postfix adds SIZE (the relay and the onion offer it) and keeps the sender's parameters.
    assert.deepEqual(
      m.mailParams.map((p) => p.replace(/^SIZE=\d+$/, 'SIZE=n')),
      ['SIZE=n', 'BODY=8BITMIME', 'SMTPUTF8', 'RET=HDRS', 'ENVID=env+2B1'],
    );
    // Postfix writes a UTF-8 ORCPT in RFC 6533's xtext form; the relay passes it on as it came.
    assert.deepEqual(m.recipients, [{ address: rcpt, params: ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=utf-8;zo\\x{EB}@onion.example'] }]);
    await pf.waitForEmptyQueue();
  });

  it('9. a 50 MB message is streamed: the relay process grows by less than 20 MB', async (t) => {
    const pid = daemon.child.pid;
    assert.ok(pid !== undefined);
    const status = (): Record<string, number> =>
      Object.fromEntries([...readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(VmRSS|VmHWM):\s+(\d+) kB$/gm)].map((x) => [x[1] ?? '', Number(x[2]) * 1024]));
    const line = `${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.repeat(2).slice(0, 76)}\r\n`;
    const body = line.repeat(Math.ceil((50 * MB) / line.length));
    const s = subject('50 MB');
    // Peak RSS from here on: writing 5 to clear_refs resets VmHWM to the current RSS.
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const before = status();
    const qid = queueIdOf(await send([`gina@${DOMAIN}`], s, body));
    const m = await onionSink.waitForMessage((x) => subjectOf(x) === s, 120_000);
    await deliveryLine(qid, `gina@${DOMAIN}`, 'sent');
    const after = status();
    const growth = (after['VmHWM'] ?? 0) - (before['VmRSS'] ?? 0);
    const figure = `relay RSS ${((before['VmRSS'] ?? 0) / MB).toFixed(1)} MB before, peak ${((after['VmHWM'] ?? 0) / MB).toFixed(1)} MB while streaming ${(m.size / MB).toFixed(1)} MB: growth ${(growth / MB).toFixed(1)} MB`;
    t.diagnostic(figure);
    assert.ok(m.size >= 50 * MB, `${m.size} octets arrived`);
    assert.ok(m.bytes.subarray(m.bytes.length - body.length).equals(Buffer.from(body)), 'the body arrived intact');
    assert.ok(growth < 20 * MB, figure);
  });

  it('5a. the relay stopped with a message in flight: the owed final reply is a 451, the mail stays queued and is delivered once after the restart', async () => {
    const s = subject('relay stopped');
    finalReplies.set(s, [{ hang: true }]);
    const qid = queueIdOf(await send([`hank@${DOMAIN}`], s));
    await onionSink.waitUntil(() => finalDots.get(s) === 1);
    const mark = await pf.logMark();
    // SIGTERM: the relay drains for its grace (2 s here), then answers the final reply it still owes
    // with a temporary failure (the onion may yet deliver: SMTP's duplicate window) and closes.
    assert.equal(await daemon.stop(), 0);
    assert.match((await deliveryLine(qid, `hank@${DOMAIN}`, 'deferred', mark))[1] ?? '', / said: 451 4\.3\.2 Relay shutting down before the onion's server answered/);
    assert.doesNotMatch(readFileSync(pf.logFile).subarray(mark).toString('utf8'), /may be sent more than once/);
    assert.deepEqual((await pf.queue()).map((q) => q.queueId), [qid]);
    assert.equal(accepted(s).length, 0);
    daemon = await startDaemon(configPath);
    await pf.flush();
    await deliveryLine(qid, `hank@${DOMAIN}`, 'sent');
    await pf.waitForEmptyQueue();
    assert.equal(accepted(s).length, 1);
  });

  it('5d. the relay stopped while Postfix streams a message it cannot finish: deferred mid-body, nothing reached any onion, delivered once after the restart', async () => {
    const s = subject('stopped mid-data');
    const rcpt = `kate@${STALL_DOMAIN}`;
    // 40 MB: more than every socket buffer between Postfix and the stalled server holds.
    const line = `${'x'.repeat(76)}\r\n`;
    const qid = queueIdOf(await send([rcpt], s, line.repeat(Math.ceil((40 * MB) / line.length))));
    await stallSink.waitUntil(() => stallSink.connections.some((c) => c.commands.includes('DATA')));
    const mark = await pf.logMark();
    assert.equal(await daemon.stop(), 0);
    assert.match((await deliveryLine(qid, rcpt, 'deferred', mark))[1] ?? '', /^lost connection with [^ ]*\/onionmx\/relay\.sock\] while sending message body/);
    assert.equal(stallSink.attempts, 0, 'the stalled onion never got a final dot');
    // The onion's server is well again (here: another sink behind the same onion).
    tor.route(`${STALL_ONION}:25`, { host: '127.0.0.1', port: onionSink.port });
    daemon = await startDaemon(configPath);
    await pf.flush();
    await deliveryLine(qid, rcpt, 'sent');
    await pf.waitForEmptyQueue();
    assert.equal(accepted(s).length, 1);
    assert.equal(stallSink.messages.length, 0);
  });

  it('5c. the relay killed (SIGKILL) with a message in flight: queued, and delivered once by the restarted daemon on its old socket', async () => {
    const s = subject('relay killed');
    finalReplies.set(s, [{ hang: true }]);
    const qid = queueIdOf(await send([`jill@${DOMAIN}`], s));
    await onionSink.waitUntil(() => finalDots.get(s) === 1);
    const mark = await pf.logMark();
    await daemon.kill();
    assert.match((await deliveryLine(qid, `jill@${DOMAIN}`, 'deferred', mark))[1] ?? '', /^lost connection with [^ ]*\/onionmx\/relay\.sock\] while sending end of data/);
    assert.equal(accepted(s).length, 0);
    daemon = await startDaemon(configPath);
    await pf.flush();
    await deliveryLine(qid, `jill@${DOMAIN}`, 'sent');
    await pf.waitForEmptyQueue();
    assert.equal(accepted(s).length, 1);
  });

  it('5b. Tor stopped with a message in flight: deferred ("Tor not running" while it is down), delivered once when it is back', async () => {
    const s = subject('tor stopped');
    finalReplies.set(s, [{ hang: true }]);
    const qid = queueIdOf(await send([`ivan@${DOMAIN}`], s));
    await onionSink.waitUntil(() => finalDots.get(s) === 1);
    const mark = await pf.logMark();
    const port = tor.port;
    await tor.close();
    assert.match((await deliveryLine(qid, `ivan@${DOMAIN}`, 'deferred', mark))[1] ?? '', /said: 451 4\.4\.2 Connection to [^ ]+\.onion:25 lost while waiting for the reply to end of data/);
    await pf.flush();
    const [, text = ''] = await pf.waitForLog(new RegExp(`${qid}: to=<ivan@${escape(DOMAIN)}>, .*status=deferred \\(([^\\n]*Tor not running[^\\n]*)\\)`), { since: mark });
    assert.match(text, /451 4\.4\.1 /);
    assert.equal(accepted(s).length, 0);
    tor = await startFakeTor({ ...torOptions, port });
    await pf.flush();
    await deliveryLine(qid, `ivan@${DOMAIN}`, 'sent');
    await pf.waitForEmptyQueue();
    assert.equal(accepted(s).length, 1);
  });

  it('no onion mail went the clearnet way: the clearnet sink got bounces and the clearnet recipient of 1b only', () => {
    assert.ok(clearSink.messages.length >= 2);
    for (const m of clearSink.messages) {
      if (m.from !== '') assert.deepEqual(m.to, [`tom@${CLEAR_DOMAIN}`], m.data.slice(0, 400));
    }
  });
});
