// The product end to end: a real Postfix built from examples/postfix (smtpd, cleanup and the
// onionrelay lmtp client chrooted, our milter and relay on the unix sockets inside the queue
// directory as main.cf and the header checks say), `onionmx-milter serve` configured from
// examples/config.yml (its relay delivering onion mail), and a stand-in for Tor's SocksPort that
// maps `<onion>:25` to local sinks. No torsocks anywhere.
// Untagged mail goes "the normal way": relayhost to a clearnet sink.
//
// DNS: a real authoritative server (nsd, unsigned zones on 127.0.0.1; see e2e-nsd.ts), so the daemon
// runs with `dns.dnssec: optional`. The SRV route comes from nsd's `_onion-mx._tcp` record; the
// lookup failures are nsd's own SERVFAIL for a zone it could not load, and a server that never
// answers (a timeout), swapped in by a SIGHUP reload.
//
// The tests share one receiving Postfix and one daemon and run in order; the daemon-stopped case is
// last. Every wait is on an event or a bounded poll (sinks, logs, queue); no timing is asserted.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ed25519 } from '@noble/curves/ed25519.js';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { startPostfix, sinkNexthop, type PostfixInstance } from '../helpers/postfix.ts';
import { startSink, type Sink, type SinkMessage } from '../helpers/smtp-sink.ts';
import { openSmtp, sendSmtp, type TransactionResult } from '../helpers/smtp-client.ts';
import { buildMessage, headerValues } from '../helpers/smtp-message.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startNsd, type Nsd } from '../helpers/e2e-nsd.ts';
import { tempDirUntilEnd } from '../helpers/process-end.ts';
import { queueIdOf, startOnionPostfix, type OnionPostfix } from '../helpers/e2e-postfix.ts';
import { exampleConfig, startDaemon, type DaemonProcess, type LogLine } from '../helpers/e2e-daemon.ts';
import { onionFromPublicKey } from '../../src/resolve/onion.ts';
import { runCli } from '../cli/cli-helpers.ts';

const run = promisify(execFile);

const skip = needRoot() || needPrograms('postfix', 'postconf', 'postqueue', 'postsuper', 'postcat', 'sendmail', 'nsd');

/** A valid v3 onion (real Ed25519 key, checksum) from a fixed seed. */
function onion(seed: number): string {
  return onionFromPublicKey(ed25519.getPublicKey(new Uint8Array(32).fill(seed)));
}

const SRV_ONION = onion(1);
const PIN_ONION = onion(2);
const DIRECT_ONION = onion(3);
const NEW_ONION = onion(4);
const FORGED_ONION = onion(5);

const ZONE = 'onionmx.example';
const SRV_DOMAIN = `srv.${ZONE}`;
const CLEAR_DOMAIN = `clear.${ZONE}`;
const PIN_DOMAIN = `pinned.${ZONE}`;
const NEW_DOMAIN = `new.${ZONE}`;
const BROKEN_DOMAIN = 'broken.example';
const INSPECT = `inspect@${SRV_DOMAIN}`;
const HEADER = 'X-Onion-Route';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The `relay=` field of Postfix's delivery log line for the onionrelay lmtp transport. */
const RELAY_FIELD = 'relay=[^,]*/onionmx/relay\\.sock[^,]*';
const ROUTE_NEXTHOP = 'onionrelay:unix:/onionmx/relay.sock';

describe('end to end: Postfix from examples/postfix, onionmx-milter serve and its relay, fake Tor', { skip }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  let dir: string;
  let configPath: string;
  let pinsPath: string;
  let clearSink: Sink;
  let srvSink: Sink;
  let pinSink: Sink;
  let directSink: Sink;
  let newSink: Sink;
  let forgedSink: Sink;
  let tor: FakeTor;
  let nsd: Nsd;
  let receiver: OnionPostfix;
  let pf: PostfixInstance;
  let daemon: DaemonProcess;
  let serial = 0;
  const subject = (label: string): string => `${label} #${++serial}`;
  const bySubject = (s: string) => (m: SinkMessage): boolean => headerValues(m.data, 'Subject')[0] === s;
  const allSinks = (): Sink[] => [clearSink, srvSink, pinSink, directSink, newSink, forgedSink];

  const config = (pins: string, overrides: Readonly<Record<string, unknown>> = {}): string => {
    writeFileSync(pinsPath, pins);
    return exampleConfig({
      'milter.listen': receiver.milterListen,
      'milter.submission_listen': receiver.submissionListen,
      'relay.listen': receiver.relayListen,
      maps: [pinsPath],
      'dns.servers': [nsd.server],
      'dns.dnssec': 'optional',
      'tor.socks': `127.0.0.1:${tor.port}`,
      ...overrides,
    });
  };

  /** One SMTP transaction into the receiving Postfix. */
  const send = (to: readonly string[], s: string, headers: readonly (readonly [string, string])[] = []): Promise<TransactionResult> =>
    sendSmtp(pf.smtpPort, { from: 'alice@sender.example', to, message: buildMessage([...headers, ['Subject', s]]) });

  /** The daemon's end-of-message line for a queue id. */
  const routedLine = (qid: string): Promise<LogLine> => daemon.waitFor(/^message routed$/, { where: (l) => l['qid'] === qid });

  const socksConnects = (destination: string): number => tor.requests.filter((r) => r.command === 'connect' && r.destination === destination).length;

  before(async () => {
    const temp = tempDirUntilEnd('onionmx-e2e-');
    dir = temp.path;
    cleanups.push(() => temp.remove());
    configPath = join(dir, 'config.yml');
    pinsPath = join(dir, 'pins.yml');
    for (const start of [
      async () => (clearSink = await startSink()),
      async () => (srvSink = await startSink()),
      async () => (pinSink = await startSink()),
      async () => (directSink = await startSink()),
      async () => (newSink = await startSink()),
      async () => (forgedSink = await startSink()),
    ]) {
      const sink = await start();
      cleanups.push(() => sink.close());
    }
    tor = await startFakeTor({
      routes: Object.fromEntries(
        ([[SRV_ONION, srvSink], [PIN_ONION, pinSink], [DIRECT_ONION, directSink], [NEW_ONION, newSink], [FORGED_ONION, forgedSink]] as const).map(([o, sink]) => [
          `${o}:25`,
          { host: '127.0.0.1', port: sink.port },
        ]),
      ),
    });
    cleanups.push(() => tor.close());
    nsd = await startNsd([
      { origin: ZONE, records: [`_onion-mx._tcp.srv IN SRV 0 1 25 ${SRV_ONION}.`, 'clear IN A 192.0.2.25'] },
      { origin: BROKEN_DOMAIN, records: undefined },
    ]);
    cleanups.push(() => nsd.close());
    receiver = await startOnionPostfix({
      mainCf: {
        // The normal way out for everything the milter does not tag: the clearnet sink.
        default_transport: 'smtp',
        relayhost: sinkNexthop(clearSink.port),
        // Test-only: hold one address's mail so its queue file can be inspected before delivery.
        smtpd_recipient_restrictions: `check_recipient_access inline:{ ${INSPECT}=HOLD }`,
      },
    });
    cleanups.push(() => receiver.stop());
    pf = receiver.pf;
    writeFileSync(configPath, config(`${PIN_DOMAIN}: ${PIN_ONION}\n`));
    daemon = await startDaemon(configPath);
    // Test 7 restarts it: kill whichever is current.
    cleanups.push(() => daemon.kill());
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  /** Sends one message to `rcpt` and checks it arrived at `sink` through the relay and the fake Tor, to `onion`. */
  async function assertOnionDelivery(rcpt: string, sink: Sink, target: string, source: string): Promise<void> {
    const s = subject(`to ${rcpt}`);
    const qid = queueIdOf(await send([rcpt], s));
    const m = await sink.waitForMessage(bySubject(s));
    assert.deepEqual(m.to, [rcpt]);
    assert.deepEqual(headerValues(m.data, HEADER), [], 'the routing header never leaves the host');
    // A new SOCKS CONNECT, or the relay's pooled session from an earlier one (the pool's idle time).
    assert.ok(socksConnects(`${target}:25`) > 0, 'a SOCKS CONNECT named the onion');
    const connect = tor.requests.findLast((r) => r.destination === `${target}:25`);
    assert.equal(connect?.atyp, 3, 'the relay sends the onion name (hostname CONNECT)');
    await pf.waitForLog(new RegExp(`${qid}: to=<${escape(rcpt)}>, ${RELAY_FIELD}, .*status=sent \\(250 `));
    // cleanup logs the (truncated) header, the client, then the FILTER action it applied.
    await pf.waitForLog(new RegExp(`${qid}: milter-header-filter: header ${HEADER}: [^\\n]*: ${escape(ROUTE_NEXTHOP)}\\n`));
    const line = await routedLine(qid);
    assert.equal(line['route'], `onionrelay:[${target}]:25`);
    // The relay's own line for the attempt carries the queue id the lmtp client passed (XFORWARD).
    const delivery = await daemon.waitFor(/^relay delivery$/, { where: (l) => l['qid'] === qid });
    assert.deepEqual((delivery['recipients'] as { outcome: string }[]).map((r) => r.outcome), ['delivered']);
    const decisions = line['decisions'] as string[];
    assert.match(decisions[0] ?? '', new RegExp(`^[^ ]+ route ${source}( dnssec)? ${escape(target)}:25( |$)`));
    assert.equal(clearSink.messages.some(bySubject(s)), false, 'no copy went the clearnet way');
  }

  it('1. a domain with an _onion-mx._tcp SRV record (served by nsd) is delivered to its onion through the relay and the SOCKS server', async () => {
    await assertOnionDelivery(`alice@${SRV_DOMAIN}`, srvSink, SRV_ONION, 'srv');
  });

  it('2a. a domain pinned in the operator map is delivered to its onion', async () => {
    await assertOnionDelivery(`bob@${PIN_DOMAIN}`, pinSink, PIN_ONION, 'static');
  });

  it('2b. user@<valid v3>.onion is delivered to that onion', async () => {
    await assertOnionDelivery(`carol@${DIRECT_ONION}`, directSink, DIRECT_ONION, 'onion-domain');
  });

  it('3. a clearnet domain is not tagged and goes the normal way (relayhost)', async () => {
    const s = subject('clearnet');
    const socksBefore = tor.requests.length;
    const qid = queueIdOf(await send([`dave@${CLEAR_DOMAIN}`], s));
    const m = await clearSink.waitForMessage(bySubject(s));
    assert.deepEqual(m.to, [`dave@${CLEAR_DOMAIN}`]);
    await pf.waitForLog(new RegExp(`${qid}: to=<dave@${escape(CLEAR_DOMAIN)}>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${clearSink.port}, .*status=sent`));
    const line = await routedLine(qid);
    assert.equal(line['route'], 'default');
    assert.doesNotMatch(await pf.log(), new RegExp(`${qid}: milter-header-filter`));
    assert.equal(tor.requests.length, socksBefore, 'nothing went through the SOCKS server');
  });

  it('4. forged X-Onion-Route headers are deleted before queueing and never obeyed', async () => {
    const forged = `onionrelay:[${FORGED_ONION}]:25`;
    const forgedHeaders = [[HEADER, forged], ['x-onion-route', forged]] as const;

    // An onion recipient, held so the queue file can be read before delivery: one header, ours.
    const held = subject('forged, held');
    const qid = queueIdOf(await send([INSPECT], held, forgedHeaders));
    const entry = (await pf.queue()).find((q) => q.queueId === qid);
    assert.equal(entry?.queueName, 'hold');
    const queued = (await run('postcat', ['-c', pf.configDir, '-h', '-q', qid])).stdout;
    assert.deepEqual(headerValues(queued, HEADER), [`onionrelay:[${SRV_ONION}]:25`], queued);
    await run('postsuper', ['-c', pf.configDir, '-H', qid]);
    await pf.flush();
    const m = await srvSink.waitForMessage(bySubject(held));
    assert.deepEqual(headerValues(m.data, HEADER), []);
    assert.equal((await routedLine(qid))['incomingHeadersRemoved'], 2);

    // A clearnet recipient: the forged header does not route the message anywhere.
    const plain = subject('forged, clearnet');
    const plainQid = queueIdOf(await send([`erin@${CLEAR_DOMAIN}`], plain, forgedHeaders));
    const c = await clearSink.waitForMessage(bySubject(plain));
    assert.deepEqual(headerValues(c.data, HEADER), []);
    assert.equal((await routedLine(plainQid))['route'], 'default');
    assert.doesNotMatch(await pf.log(), new RegExp(`${plainQid}: milter-header-filter`));
    assert.equal(socksConnects(`${FORGED_ONION}:25`), 0, 'the forged onion was never contacted');
    assert.equal(forgedSink.messages.length, 0);
  });

  it('5. a real sending Postfix: the recipient on the other route gets 452 4.5.3, and after its retry both arrive on their own paths', async () => {
    const sender = await startPostfix({ mainCf: { default_transport: 'smtp', relayhost: sinkNexthop(pf.smtpPort) } });
    cleanups.push(() => sender.stop());
    const s = subject('mixed');
    const onionRcpt = `frank@${SRV_DOMAIN}`;
    const clearRcpt = `grace@${CLEAR_DOMAIN}`;
    const result = await sendSmtp(sender.smtpPort, { from: 'alice@sender.example', to: [onionRcpt, clearRcpt], message: buildMessage([['Subject', s]]) });
    queueIdOf(result);
    // Whichever recipient the sender's queue manager puts first fixes the route; the other is deferred.
    const deferred = await sender.waitForLog(/: to=<([^>]+)>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 452 4\.5\.3 /);
    assert.ok([onionRcpt, clearRcpt].includes(deferred[1] ?? ''), deferred[0]);
    await sender.flush();
    const viaTor = await srvSink.waitForMessage(bySubject(s));
    const clear = await clearSink.waitForMessage(bySubject(s));
    assert.deepEqual(viaTor.to, [onionRcpt]);
    assert.deepEqual(clear.to, [clearRcpt]);
    await sender.waitForEmptyQueue();
    assert.equal(srvSink.messages.filter(bySubject(s)).length, 1);
    assert.equal(clearSink.messages.filter(bySubject(s)).length, 1);
  });

  /** One recipient whose lookup fails: 451 4.4.3 at RCPT, nothing queued, sent or proxied. */
  async function assertLookupFailure(rcpt: string, label: string, reason: RegExp): Promise<void> {
    const marks = allSinks().map((k) => k.messages.length);
    const socksBefore = tor.requests.length;
    const mark = await pf.logMark();
    const result = await send([rcpt], subject(label));
    assert.equal(result.rcpts[0]?.reply.code, 451, result.rcpts[0]?.reply.raw);
    assert.match(result.rcpts[0]?.reply.raw ?? '', /^451 4\.4\.3 /);
    assert.match(result.rcpts[0]?.reply.raw ?? '', reason);
    assert.equal(result.data, undefined, 'no DATA without an accepted recipient');
    await pf.waitForLog(new RegExp(`milter-reject: RCPT from [^:]*: 451 4\\.4\\.3 .*to=<${escape(rcpt)}>`), { since: mark });
    assert.deepEqual(await pf.queue(), []);
    assert.deepEqual(allSinks().map((k) => k.messages.length), marks);
    assert.equal(tor.requests.length, socksBefore);
  }

  it('6a. a DNS SERVFAIL (nsd with a zone it could not load) answers 451 4.4.3 at RCPT and nothing is delivered anywhere', async () => {
    await assertLookupFailure(`henry@${BROKEN_DOMAIN}`, 'servfail', /\(servfail: /);
  });

  it('6b. a DNS timeout (a server that never answers) answers 451 4.4.3 at RCPT and nothing is delivered anywhere', async () => {
    const silent = createSocket('udp4');
    silent.on('message', () => undefined);
    silent.bind(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      let mark = daemon.mark();
      writeFileSync(configPath, config(`${PIN_DOMAIN}: ${PIN_ONION}\n`, { 'dns.servers': [`127.0.0.1:${silent.address().port}`], 'dns.timeout': '200ms', 'dns.deadline': '1s' }));
      daemon.child.kill('SIGHUP');
      await daemon.waitFor(/configuration reloaded/, { since: mark });
      await assertLookupFailure(`olga@${SRV_DOMAIN}`, 'timeout', /\(timeout/);
      mark = daemon.mark();
      writeFileSync(configPath, config(`${PIN_DOMAIN}: ${PIN_ONION}\n`));
      daemon.child.kill('SIGHUP');
      await daemon.waitFor(/configuration reloaded/, { since: mark });
    } finally {
      silent.close();
    }
  });

  it('sendmail(1) submissions pass non_smtpd_milters (the submission socket): tagged and delivered through the fake Tor', async () => {
    const s = subject('sendmail');
    const rcpt = `ivan@${SRV_DOMAIN}`;
    await pf.sendmail(['-f', 'alice@sender.example', rcpt], buildMessage([['Subject', s]]));
    const m = await srvSink.waitForMessage(bySubject(s));
    assert.deepEqual(m.to, [rcpt]);
    assert.deepEqual(headerValues(m.data, HEADER), []);
    await pf.waitForLog(new RegExp(`: to=<${escape(rcpt)}>, ${RELAY_FIELD}, .*status=sent`));
  });

  it('the onion-facing smtpd from master.cf does not relay for loopback clients (what Tor forwards arrives from 127.0.0.1)', async () => {
    const session = await openSmtp(receiver.onionSmtpdPort);
    try {
      await session.ehlo();
      const result = await session.send({ from: 'x@outside.example', to: [`victim@${CLEAR_DOMAIN}`], message: buildMessage([['Subject', 'relay?']]) });
      assert.equal(result.rcpts[0]?.reply.code, 554, result.rcpts[0]?.reply.raw);
      assert.match(result.rcpts[0]?.reply.raw ?? '', /Relay access denied/);
    } finally {
      await session.quit();
    }
    // The audit the master.cf comment recommends passes on the example listener.
    const audit = await runCli(['check-relay', '--smtp', `127.0.0.1:${receiver.onionSmtpdPort}`]);
    assert.equal(audit.status, 0, audit.stdout + audit.stderr);
  });

  it('8. SIGHUP with a broken config keeps routing; SIGHUP with a new map entry routes the new domain', async () => {
    const before = subject('new domain before reload');
    const beforeQid = queueIdOf(await send([`judy@${NEW_DOMAIN}`], before));
    await clearSink.waitForMessage(bySubject(before));
    assert.equal((await routedLine(beforeQid))['route'], 'default');

    let mark = daemon.mark();
    writeFileSync(configPath, 'milter:\n  listen: [this is not valid\n');
    daemon.child.kill('SIGHUP');
    await daemon.waitFor(/reload rejected/, { since: mark });
    await assertOnionDelivery(`kim@${PIN_DOMAIN}`, pinSink, PIN_ONION, 'static');

    mark = daemon.mark();
    writeFileSync(configPath, config(`${PIN_DOMAIN}: ${PIN_ONION}\n${NEW_DOMAIN}: ${NEW_ONION}\n`));
    daemon.child.kill('SIGHUP');
    await daemon.waitFor(/configuration reloaded/, { since: mark });
    await assertOnionDelivery(`judy@${NEW_DOMAIN}`, newSink, NEW_ONION, 'static');
  });

  it('no message that arrived anywhere carries the routing header, and the forged onion was never contacted', () => {
    const all = allSinks().flatMap((k) => k.messages);
    assert.ok(all.length >= 10, `${all.length} messages`);
    for (const m of all) assert.deepEqual(headerValues(m.data, HEADER), [], m.data);
    assert.equal(tor.connects(`${FORGED_ONION}:25`), 0);
  });

  it('7. with the daemon stopped Postfix applies milter_default_action = tempfail, no onion mail leaves over the clearnet, and held submissions go through Tor once it is back', async () => {
    assert.equal(receiver.exampleMainCf['milter_default_action'], 'tempfail');
    assert.equal(await daemon.stop(), 0);
    const marks = allSinks().map((k) => k.messages.length);
    const session = await openSmtp(pf.smtpPort);
    try {
      await session.ehlo();
      // Postfix connects to the milter at the first command it must pass on and tempfails from there.
      const mail = await session.command('MAIL FROM:<alice@sender.example>');
      assert.match(mail.raw, /^451 4\.7\.1 /);
      const rcpt = await session.command(`RCPT TO:<leo@${SRV_DOMAIN}>`);
      assert.ok(rcpt.code >= 400, rcpt.raw);
      const data = await session.command('DATA');
      assert.ok(data.code >= 400, data.raw);
    } finally {
      await session.quit();
    }
    await pf.waitForLog(/warning: connect to Milter service unix:\/onionmx\/milter\.sock: /);
    assert.deepEqual(await pf.queue(), []);

    // A local submission: cleanup cannot reach the submission socket either; pickup leaves the
    // message in the maildrop queue.
    const mark = await pf.logMark();
    const held = subject('sendmail, daemon down');
    await pf.sendmail(['-f', 'alice@sender.example', `mia@${SRV_DOMAIN}`], buildMessage([['Subject', held]]));
    await pf.waitForLog(/: milter-reject: CONNECT from localhost\[127\.0\.0\.1\]: 4\.7\.1 /, { since: mark });
    assert.deepEqual((await pf.queue()).map((q) => [q.queueName, q.recipients.map((r) => r.address)]), [['maildrop', [`mia@${SRV_DOMAIN}`]]]);
    assert.deepEqual(allSinks().map((k) => k.messages.length), marks);

    // With the daemon back, the next submission wakes pickup and both go out through Tor.
    daemon = await startDaemon(configPath);
    const next = subject('sendmail, daemon back');
    await pf.sendmail(['-f', 'alice@sender.example', `nina@${SRV_DOMAIN}`], buildMessage([['Subject', next]]));
    await srvSink.waitForMessage(bySubject(held));
    await srvSink.waitForMessage(bySubject(next));
    await pf.waitForEmptyQueue();
    assert.equal(clearSink.messages.length, marks[0]);
  });
});
