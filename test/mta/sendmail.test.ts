// Real Sendmail (Debian's sendmail-bin, unpacked) with the .mc lines of examples/sendmail, inside
// a loopback-only network namespace (sendmail-lab.ts). Proves, by actual delivery:
// - a recipient of an onion-routed domain gets an `onionrelay:[<onion>]` mailertable route from the
//   daemon's socket map and leaves through the [IPC] LMTP mailer to the daemon's relay, which
//   connects the onion through the fake Tor by name (ATYP 3): no torsocks, no DNS for the onion;
// - DSN parameters (RET, ENVID, NOTIFY, ORCPT) and an 8-bit body reach the onion as sent;
// - the onion's 550 for one of two recipients bounces that one (a DSN to the sender) and delivers
//   the other once; its 451 after the data defers the message, and a queue run delivers it once;
// - an onion that never answers the final dot is given up on by the relay: 451 4.4.2, deferred;
// - Tor's F2, F4 and F7 defer the recipient with Tor's reason in the queue's status, F6 bounces it 5.1.2;
// - the relay stopped, or the Tor stand-in stopped, while the onion owes its answer to the final
//   dot: the message stays queued and is delivered once after the restart;
// - SMTPUTF8 is where this Sendmail stops: Debian's sendmail-bin is built without USE_EAI, so it
//   never offers SMTPUTF8 and refuses the parameter (8-bit mail with DSN parameters goes through);
// - a 50 MB message is streamed through the relay, whose peak RSS grows by less than 20 MB;
// - a recipient whose route vanished between RCPT and delivery (SIGHUP removing the pin) is
//   deferred by the relay (451 4.4.4), and nothing reaches the clearnet;
// - a queued message waits while the daemon (map and relay) is down, delivered once after its restart;
// - a clearnet recipient of the same message goes by MX to the clearnet sink, not through Tor;
// - the milter's routing header is present and a forged one from the client is gone;
// - a recipient whose route lookup fails (SERVFAIL, or no DNS answer) is never delivered in the
//   clear: over SMTP the milter answers 451 4.4.3 at RCPT; without the milter (a submission with
//   the MTA's own configuration) the socket map's TEMP keeps the recipient in the queue;
// - with the daemon down, F=T makes Sendmail answer 451 to MAIL, and local submissions wait in the
//   MSP's queue; after a restart both go through Tor again;
// - a local submission (`sendmail -t` through the MSP, which relays over SMTP to the MTA) meets
//   the milter like SMTP mail: routing header replaced, delivered through the fake Tor;
// - no `.onion` name is ever asked of DNS.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { needSetup } from '../helpers/exim-install.ts';
import { sendmailInstall } from '../helpers/sendmail-install.ts';
import { startNetnsWorker, type NetnsWorker } from '../helpers/netns.ts';
import { SENDMAIL_LAB_SCRIPT, SERVFAIL_DOMAIN, SILENT_DOMAIN } from '../helpers/sendmail-lab-fixtures.ts';
import {
  CLEARNET_DOMAIN,
  EXPECTED_HEADER,
  HANG_AFTER_DATA,
  HANG_ONCE,
  LAB_NETNS,
  ONION_DOMAIN,
  PINNED_DOMAIN,
  RELAY_HELO,
  ROUTE_HEADER as HEADER,
  TEMPFAIL_ONCE,
  TOR_F2_DOMAIN,
  TOR_F4_DOMAIN,
  TOR_F6_DOMAIN,
  TOR_F7_DOMAIN,
  UNKNOWN_USER,
  type RelayDeliveryLine,
  type SocksSeen,
} from '../helpers/mta-lab-fixtures.ts';
import type { SinkMessage } from '../helpers/smtp-sink.ts';
import { dataSection, type SmtpReply, type TransactionResult } from '../helpers/smtp-client.ts';
import type { RunResult } from '../helpers/sendmail.ts';
import { buildMessage, headerValues } from '../helpers/smtp-message.ts';
import { literal, relayConnect, relayGrowthStreaming, sendMixedMessage } from '../helpers/mta-lab-checks.ts';

const skip = needRoot() || needPrograms('ip', 'unshare', 'mount', 'apt-get', 'dpkg-deb', 'm4') || needSetup('Sendmail (unpacked sendmail-bin, sendmail-cf)', () => void sendmailInstall());

const FORGED = 'onionrelay:[forgedforgedforgedforgedforgedforgedforgedforgedforgedfo.onion]:25';

const MB = 1024 * 1024;

describe('real Sendmail routing onion mail through the milter and the socket map', { skip, timeout: 300_000 }, () => {
  let lab: NetnsWorker;

  before(async () => {
    // Sendmail qualifies this host's name before it reads its .cf, and sleeps a minute when it
    // cannot: a hosts file that gives the name a domain spares that (and any DNS query for it).
    const host = hostname();
    lab = await startNetnsWorker(SENDMAIL_LAB_SCRIPT, {
      ...LAB_NETNS,
      label: 'sendmail',
      files: { '/etc/hosts': `127.0.0.1 localhost\n127.0.1.1 ${host}.sendmail.test ${host}\n` },
    });
  });
  after(async () => {
    await lab.close();
  });

  const waitFor = (sink: 'onion' | 'clearnet', subject: string): Promise<SinkMessage> => lab.call<SinkMessage>('waitForMessage', sink, subject);
  const socks = (): Promise<SocksSeen[]> => lab.call<SocksSeen[]>('socksRequests');
  const delivered = async (sink: 'onion' | 'clearnet', subject: string): Promise<SinkMessage[]> =>
    (await lab.call<SinkMessage[]>('messages', sink)).filter((m) => m.data.includes(`Subject: ${subject}\r\n`));
  const mark = (): Promise<number> => lab.call<number>('daemonLogMark');
  /** The relay's line for a delivery to `domain` after `since` in which a recipient there got `outcome`. */
  const relayLine = (domain: string, since: number, outcome: 'delivered' | 'deferred' | 'bounced'): Promise<RelayDeliveryLine> =>
    lab.call<RelayDeliveryLine>('relayDelivery', domain, since, outcome);
  /** The queue listing once it names `present` and none of `absent` (regular expressions). */
  const queueWith = (present: string, absent: string[] = []): Promise<string> => lab.call<string>('waitForQueue', present, absent);
  /** A `-v -bp` listing's recipient line for `address` followed by its status line, deferred with `reply`. */
  const deferredAs = (address: string, reply: string): string => `<${literal(address)}>\\s*\\(Deferred: ${literal(reply)} `;
  /** The queue entry (qid line through its recipients) that names `address`. */
  const entryOf = (listing: string, address: string): string => listing.split(/\n(?=\S)/).find((e) => e.includes(address)) ?? '';
  const send = (from: string, to: string[], subject: string): Promise<TransactionResult> =>
    lab.call<TransactionResult>('smtp', { from, to, message: buildMessage([['Subject', subject]]) });
  /** The queue file of the entry that names `address`, from a listing. */
  const queueFileOf = (listing: string, address: string): Promise<string> => lab.call<string>('queueFile', entryOf(listing, address).split(/\s/)[0] ?? '');
  /** The DSN about the message `subject` (its sender is a clearnet address, so it lands on the clearnet sink). */
  const bounceOf = async (subject: string): Promise<SinkMessage> => {
    const dsn = await waitFor('clearnet', subject);
    assert.equal(dsn.from, '', 'a DSN has the null sender');
    return dsn;
  };

  it('delivers the onion recipient through the relay and the fake Tor (no torsocks), the clearnet one by MX; header replaced', async () => {
    const since = await mark();
    await sendMixedMessage(lab, 'sendmail mixed', FORGED);

    const seen = await socks();
    assert.ok(seen.some(relayConnect), JSON.stringify(seen));
    assert.ok(!seen.some((r) => r.destination.includes(CLEARNET_DOMAIN) || r.destination.startsWith('127.0.0.2')), 'clearnet mail did not go through Tor');
    const line = await relayLine(ONION_DOMAIN, since, 'delivered');
    assert.equal(line.relay, 'lmtp');
    assert.deepEqual(line.recipients.map((r) => [r.domain, r.outcome, r.reply]), [[ONION_DOMAIN, 'delivered', '250 2.0.0']]);
    const cf = await lab.call<string>('cf');
    assert.match(cf, /^Monionrelay,\s+P=\[IPC\], F=\S*z\S*,.*\n.*\n\s+A=FILE \/\S+\/relay\.sock$/m, 'the [IPC] LMTP mailer of onionmx.mc');
    assert.doesNotMatch(cf, /torsocks/);
  });

  it("bounces the recipient the onion refuses with 550 and delivers the other once", async () => {
    const subject = 'sendmail one refused';
    const since = await mark();
    const result = await send(`alice@${CLEARNET_DOMAIN}`, [`${UNKNOWN_USER}@${ONION_DOMAIN}`, `olga@${ONION_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const dsn = await bounceOf(subject);
    assert.deepEqual(dsn.to, [`alice@${CLEARNET_DOMAIN}`]);
    assert.match(dsn.data, new RegExp(`${literal(`${UNKNOWN_USER}@${ONION_DOMAIN}`)}[\\s\\S]*550 5\\.1\\.1`));
    assert.doesNotMatch(dsn.data, /olga@/, 'only the refused recipient is in the DSN');
    // The DSN is written after the delivery attempt: by now the onion has what it will get.
    const copies = await delivered('onion', subject);
    assert.deepEqual(copies.map((m) => m.to), [[`olga@${ONION_DOMAIN}`]]);
    await queueWith('', [`${UNKNOWN_USER}@`, 'olga@']);
    // One LMTP transaction (in Sendmail's recipient order), each recipient with its own onion's answer.
    const line = await relayLine(ONION_DOMAIN, since, 'bounced');
    assert.deepEqual(line.recipients.map((r) => `${r.outcome} ${r.reply}`).sort(), ['bounced 550 5.1.1', 'delivered 250 2.0.0']);
  });

  it('defers the message the onion answers 451 after the data, and delivers it once at the next queue run', async () => {
    const subject = `sendmail tempfail ${TEMPFAIL_ONCE}`;
    const since = await mark();
    const result = await send('alice@sender.example', [`retry-me@${ONION_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const line = await relayLine(ONION_DOMAIN, since, 'deferred');
    assert.deepEqual(line.recipients.map((r) => [r.outcome, r.reply]), [['deferred', '451 4.3.0']]);
    // The relay's line comes before Sendmail records the attempt: wait for the recipient's status.
    const listing = await queueWith(deferredAs(`retry-me@${ONION_DOMAIN}`, '451 4.3.0'));
    assert.match(entryOf(listing, 'retry-me@'), /451 4\.3\.0 Try again later/, listing);
    assert.deepEqual(await delivered('onion', subject), []);

    const run = await lab.call<RunResult>('mta', ['-qRretry-me@']);
    assert.equal(run.code, 0, JSON.stringify(run));
    const late = await waitFor('onion', subject);
    assert.deepEqual(late.to, [`retry-me@${ONION_DOMAIN}`]);
    await queueWith('', ['retry-me@']);
    assert.equal((await delivered('onion', subject)).length, 1, 'delivered once');
  });

  it("passes the DSN parameters (RET, ENVID, NOTIFY, ORCPT) and an 8-bit body, unconverted, through the relay to the onion", async () => {
    const subject = 'sendmail dsn 8bit';
    const body = 'Grüße aus Zürich, ½ € — ünïcödé\r\n.a line that starts with a dot\r\n';
    const message = buildMessage([['Subject', subject], ['MIME-Version', '1.0'], ['Content-Type', 'text/plain; charset=utf-8'], ['Content-Transfer-Encoding', '8bit']], body);
    const replies = await lab.call<SmtpReply[]>('smtpDialog', [
      'EHLO client.test',
      'MAIL FROM:<alice@sender.example> BODY=8BITMIME RET=HDRS ENVID=env-42',
      `RCPT TO:<nina@${ONION_DOMAIN}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;nina@${ONION_DOMAIN}`,
      'DATA',
      dataSection(message).slice(0, -2),
    ]);
    assert.deepEqual(replies.map((r) => r.code), [250, 250, 250, 354, 250], replies.map((r) => r.raw).join('\n'));
    const viaTor = await waitFor('onion', subject);
    assert.equal(viaTor.helo, RELAY_HELO);
    assert.ok(viaTor.mailParams.includes('RET=HDRS') && viaTor.mailParams.includes('ENVID=env-42'), JSON.stringify(viaTor.mailParams));
    assert.ok(viaTor.mailParams.includes('BODY=8BITMIME'), JSON.stringify(viaTor.mailParams));
    assert.deepEqual(viaTor.recipients, [{ address: `nina@${ONION_DOMAIN}`, params: ['NOTIFY=SUCCESS,FAILURE', `ORCPT=rfc822;nina@${ONION_DOMAIN}`] }]);
    // Decoded as UTF-8 by the sink: a 7-bit conversion (quoted-printable) or a lost dot would not match.
    assert.ok(viaTor.data.endsWith(`\r\n\r\n${body}`), JSON.stringify(viaTor.data));
  });

  it('defers the message when the onion never answers the final dot (the relay times out)', async () => {
    const subject = `sendmail hang ${HANG_AFTER_DATA}`;
    const since = await mark();
    const result = await send('alice@sender.example', [`hugo@${ONION_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const line = await relayLine(ONION_DOMAIN, since, 'deferred');
    assert.deepEqual(line.recipients.map((r) => [r.outcome, r.reply]), [['deferred', '451 4.4.2']]);
    await queueWith(deferredAs(`hugo@${ONION_DOMAIN}`, '451 4.4.2'));
    assert.deepEqual(await delivered('onion', subject), []);
  });

  it("defers a recipient on Tor's F2 with Tor's reason in the queue", async () => {
    const since = await mark();
    const result = await send('alice@sender.example', [`dora@${TOR_F2_DOMAIN}`], 'sendmail tor f2');
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const line = await relayLine(TOR_F2_DOMAIN, since, 'deferred');
    assert.deepEqual(line.recipients.map((r) => [r.outcome, r.reply, r.tor]), [['deferred', '451 4.4.1', 'F2']]);
    // Sendmail logs to syslog only; its queue file keeps the reply of the last attempt (mailq shows
    // the first 100 characters of it).
    const listing = await queueWith(deferredAs(`dora@${TOR_F2_DOMAIN}`, '451 4.4.1'));
    const qid = entryOf(listing, `dora@${TOR_F2_DOMAIN}`).split(/\s/)[0] ?? '';
    const qf = await lab.call<string>('queueFile', qid);
    assert.match(qf, /^MDeferred: 451 4\.4\.1 .*introduction.*\[Tor code F2\]$/im, qf);
  });

  it("defers recipients on Tor's F4 and F7 with Tor's reason in the queue", async () => {
    const expected = [
      [TOR_F4_DOMAIN, 'F4', '451 4.3.5', /^MDeferred: 451 4\.3\.5 .*ClientOnionAuthDir.*\[Tor code F4\]$/im],
      [TOR_F7_DOMAIN, 'F7', '451 4.4.1', /^MDeferred: 451 4\.4\.1 .*\[Tor code F7\]$/im],
    ] as const;
    for (const [domain, code, reply, reason] of expected) {
      const since = await mark();
      const result = await send('alice@sender.example', [`fred@${domain}`], `sendmail tor ${code}`);
      assert.equal(result.data?.code, 250, JSON.stringify(result));
      const line = await relayLine(domain, since, 'deferred');
      assert.deepEqual(line.recipients.map((r) => [r.outcome, r.reply, r.tor]), [['deferred', reply, code]]);
      const listing = await queueWith(deferredAs(`fred@${domain}`, reply));
      assert.match(await queueFileOf(listing, `fred@${domain}`), reason);
    }
  });

  // Stopped, the relay answers what it owes (451) before it closes; killed, Sendmail's LMTP client
  // loses the connection while waiting for the replies to the final dot.
  const stops = [
    ['stopped (SIGTERM)', 'stopDaemon', 'hedy', "Deferred: 451 4\\.3\\.2 Relay shutting down before the onion's server answered"],
    ['killed (SIGKILL)', 'killDaemon', 'kira', 'reply: read error from localhost\\)'],
  ] as const;
  for (const [how, stopRpc, local, deferredBecause] of stops) {
    it(`keeps the message queued when the relay is ${how} while the onion owes its final reply, and delivers it once after the restart on its old socket`, async () => {
      const subject = `sendmail relay ${how} ${HANG_ONCE}`;
      const rcpt = `${local}@${ONION_DOMAIN}`;
      const result = await send('alice@sender.example', [rcpt], subject);
      assert.equal(result.data?.code, 250, JSON.stringify(result));
      await lab.call('waitForHeldFinalDot', subject);
      await lab.call(stopRpc);
      try {
        await queueWith(`<${literal(rcpt)}>\\s*\\(${deferredBecause}`);
        assert.deepEqual(await delivered('onion', subject), []);
      } finally {
        await lab.call('startDaemon');
      }
      const up = await lab.call<RunResult>('mta', [`-qR${local}@`]);
      assert.equal(up.code, 0, JSON.stringify(up));
      await waitFor('onion', subject);
      await queueWith('', [`${local}@`]);
      assert.deepEqual((await delivered('onion', subject)).map((m) => m.to), [[rcpt]], 'delivered once');
    });
  }

  it('keeps the message queued when Tor stops while the onion owes its final reply ("Tor not running" while down), and delivers it once when Tor is back', async () => {
    const subject = `sendmail tor stopped ${HANG_ONCE}`;
    const rcpt = `iris@${ONION_DOMAIN}`;
    const since = await mark();
    const result = await send('alice@sender.example', [rcpt], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    await lab.call('waitForHeldFinalDot', subject);
    await lab.call('stopTor');
    try {
      const lost = await relayLine(ONION_DOMAIN, since, 'deferred');
      assert.match(lost.recipients.map((r) => r.reply).join(), /^451 4\.4\.2/);
      await queueWith(deferredAs(rcpt, '451 4.4.2'));
      const retrySince = await mark();
      const down = await lab.call<RunResult>('mta', ['-qRiris@']);
      assert.equal(down.code, 0, JSON.stringify(down));
      await relayLine(ONION_DOMAIN, retrySince, 'deferred');
      const listing = await queueWith(deferredAs(rcpt, '451 4.4.1'));
      assert.match(await queueFileOf(listing, rcpt), /^MDeferred: 451 4\.4\.1 .*Tor not running/im);
      assert.deepEqual(await delivered('onion', subject), []);
    } finally {
      await lab.call('startTor');
    }
    const up = await lab.call<RunResult>('mta', ['-qRiris@']);
    assert.equal(up.code, 0, JSON.stringify(up));
    await waitFor('onion', subject);
    await queueWith('', ['iris@']);
    assert.deepEqual((await delivered('onion', subject)).map((m) => m.to), [[rcpt]], 'delivered once');
  });

  it('offers no SMTPUTF8 (this Sendmail is built without USE_EAI) and refuses the parameter, so no UTF-8 envelope reaches the relay', async () => {
    const replies = await lab.call<SmtpReply[]>('smtpDialog', ['EHLO client.test', `MAIL FROM:<jörg@sender.example> SMTPUTF8 BODY=8BITMIME`]);
    assert.equal(replies[0]?.code, 250, replies[0]?.raw);
    assert.ok(replies[0]?.lines.includes('8BITMIME') && replies[0].lines.includes('DSN'), replies[0]?.raw);
    assert.ok(!replies[0].lines.includes('SMTPUTF8'), replies[0].raw);
    assert.match(replies[1]?.raw ?? '', /^5\d\d /, replies[1]?.raw);
  });

  it("bounces a recipient on Tor's F6 with 5.1.2", async () => {
    const subject = 'sendmail tor f6';
    const since = await mark();
    const result = await send(`alice@${CLEARNET_DOMAIN}`, [`earl@${TOR_F6_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const dsn = await bounceOf(subject);
    assert.match(dsn.data, new RegExp(`earl@${literal(TOR_F6_DOMAIN)}[\\s\\S]*550 5\\.1\\.2 .*\\[Tor code F6\\]`));
    const line = await relayLine(TOR_F6_DOMAIN, since, 'bounced');
    assert.deepEqual(line.recipients.map((r) => [r.outcome, r.reply, r.tor]), [['bounced', '550 5.1.2', 'F6']]);
    await queueWith('', ['earl@']);
  });

  it('keeps a queued message while the daemon is down, and delivers it once after the restart', async () => {
    const subject = `sendmail daemon down ${TEMPFAIL_ONCE}`;
    const result = await send('alice@sender.example', [`wait-me@${ONION_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    await queueWith(deferredAs(`wait-me@${ONION_DOMAIN}`, '451 4.3.0'));

    await lab.call('stopDaemon');
    try {
      const down = await lab.call<RunResult>('mta', ['-qRwait-me@']);
      assert.equal(down.code, 0, JSON.stringify(down));
      // Neither the map nor the relay answers: the recipient waits, with the map's trouble as its status.
      await queueWith(`\\(socket map "mailertable": [^\\n]*\\n\\s*<wait-me@${literal(ONION_DOMAIN)}>`);
      assert.deepEqual(await delivered('onion', subject), []);
    } finally {
      await lab.call('startDaemon');
    }
    const up = await lab.call<RunResult>('mta', ['-qRwait-me@']);
    assert.equal(up.code, 0, JSON.stringify(up));
    await waitFor('onion', subject);
    await queueWith('', ['wait-me@']);
    assert.deepEqual((await delivered('onion', subject)).map((m) => m.to), [[`wait-me@${ONION_DOMAIN}`]], 'delivered once');
  });

  it('refuses, at RCPT with 451 4.4.3, a recipient whose route lookup gets SERVFAIL or no answer; never delivers it by MX', async () => {
    const socksBefore = (await socks()).length;
    const result = await lab.call<TransactionResult>('smtp', {
      from: 'alice@sender.example',
      to: [`xavier@${SERVFAIL_DOMAIN}`, `yvonne@${SILENT_DOMAIN}`, `carol@${CLEARNET_DOMAIN}`],
      message: buildMessage([['Subject', 'sendmail lookup trouble']]),
    });
    const [servfail, silent, clearnet] = result.rcpts.map((r) => r.reply);
    assert.match(servfail?.raw ?? '', /^451 4\.4\.3 .*SERVFAIL/, JSON.stringify(result.rcpts));
    assert.match(silent?.raw ?? '', /^451 4\.4\.3 .*timeout/, JSON.stringify(result.rcpts));
    assert.equal(clearnet?.code, 250, clearnet?.raw);
    assert.equal(result.data?.code, 250, result.data?.raw);

    // Both failing domains have the clearnet domain's MX: failing open, Sendmail would have put
    // them into this very delivery. The message went out with the clearnet recipient alone.
    const clear = await waitFor('clearnet', 'sendmail lookup trouble');
    assert.deepEqual(clear.to, [`carol@${CLEARNET_DOMAIN}`]);
    assert.deepEqual(await delivered('onion', 'sendmail lookup trouble'), []);
    assert.deepEqual((await socks()).slice(socksBefore), [], 'no SOCKS request for this message');
    // Refused at RCPT, so not queued either: the client keeps them and retries.
    const queue = await lab.call<RunResult>('mta', ['-bp']);
    assert.doesNotMatch(queue.stdout, /xavier@|yvonne@/, queue.stdout);
  });

  it("keeps such recipients queued on the socket map's TEMP when no milter runs (a submission with the MTA's configuration)", async () => {
    // `sendmail -C sendmail.cf` (as `-Am` does) never meets a milter: only the mailertable lookup
    // stands between the recipient and delivery by MX.
    const socksBefore = (await socks()).length;
    const submitted = await lab.call<RunResult>(
      'mta',
      ['-odi', '-f', 'alice@sender.example', `xavier@${SERVFAIL_DOMAIN}`, `yvonne@${SILENT_DOMAIN}`, `frank@${CLEARNET_DOMAIN}`],
      buildMessage([
        ['Subject', 'sendmail lookup trouble, no milter'],
        [HEADER, FORGED],
      ]),
    );
    assert.equal(submitted.code, 0, JSON.stringify(submitted));
    // -odi: delivery was attempted before sendmail returned.
    const clear = await waitFor('clearnet', 'sendmail lookup trouble, no milter');
    assert.deepEqual(clear.to, [`frank@${CLEARNET_DOMAIN}`]);
    // No milter, so nobody removed the client's header; it routed nothing (routing never reads it).
    assert.deepEqual(headerValues(clear.data, HEADER), [FORGED]);
    assert.deepEqual(await delivered('onion', 'sendmail lookup trouble, no milter'), []);
    assert.deepEqual((await socks()).slice(socksBefore), [], 'no SOCKS request for this message');
    const queue = await lab.call<RunResult>('mta', ['-bp']);
    const entry = queue.stdout.split(/\n(?=\S)/).find((e) => e.includes(`yvonne@${SILENT_DOMAIN}`)) ?? '';
    assert.match(entry, /mailertable map: lookup \(lookup-(trouble|silent)\.example\): deferred/, queue.stdout);
    assert.match(entry, new RegExp(`xavier@${SERVFAIL_DOMAIN.replaceAll('.', '\\.')}`), queue.stdout);
    assert.doesNotMatch(entry, /frank@/, 'the clearnet recipient is delivered and gone from the queue');
  });

  it('routes a local submission (sendmail -t through the MSP) through the milter like SMTP mail', async () => {
    const since = await mark();
    const submitted = await lab.call<RunResult>(
      'msp',
      ['-t', '-f', 'alice@sender.example'],
      buildMessage([
        ['To', `erin@${ONION_DOMAIN}, frank@${CLEARNET_DOMAIN}`],
        ['Subject', 'sendmail local mixed'],
        [HEADER, FORGED],
      ]),
    );
    assert.equal(submitted.code, 0, JSON.stringify(submitted));
    const viaTor = await waitFor('onion', 'sendmail local mixed');
    assert.deepEqual(viaTor.to, [`erin@${ONION_DOMAIN}`]);
    assert.equal(viaTor.helo, RELAY_HELO);
    assert.match(viaTor.data, /^Received: from \S+ \(localhost \[127\.0\.0\.1\]\)/, 'relayed over SMTP by the MSP');
    const clear = await waitFor('clearnet', 'sendmail local mixed');
    assert.deepEqual(clear.to, [`frank@${CLEARNET_DOMAIN}`]);
    assert.deepEqual(headerValues(clear.data, HEADER), [EXPECTED_HEADER], 'the forged header is gone and the milter added its own');
    // Through the relay, on the upstream session the first test opened (no new SOCKS request needed).
    const line = await relayLine(ONION_DOMAIN, since, 'delivered');
    assert.deepEqual(line.recipients.map((r) => [r.outcome, r.reply]), [['delivered', '250 2.0.0']]);
  });

  it('defers a recipient whose route vanished between RCPT and delivery (pin removed by SIGHUP); nothing reaches the clearnet', async () => {
    const subject = 'sendmail route vanished';
    const since = await mark();
    const socksBefore = (await socks()).length;
    const clearBefore = await lab.call<number>('sinkConnections', 'clearnet');
    // Sendmail picked the onionrelay mailer at RCPT, from the map; the pin is gone by the time it delivers.
    const result = await lab.call<TransactionResult>('smtpUnpinningBeforeData', {
      from: 'alice@sender.example',
      to: [`pat@${PINNED_DOMAIN}`],
      message: buildMessage([['Subject', subject]]),
    });
    assert.equal(result.rcpts[0]?.reply.code, 250, JSON.stringify(result));
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const line = await relayLine(PINNED_DOMAIN, since, 'deferred');
    assert.deepEqual(line.recipients.map((r) => [r.outcome, r.reply]), [['deferred', '451 4.4.4']]);
    const listing = await queueWith(deferredAs(`pat@${PINNED_DOMAIN}`, '451 4.4.4'));
    assert.match(entryOf(listing, `pat@${PINNED_DOMAIN}`), /451 4\.4\.4 No onion route/, listing);
    assert.deepEqual((await socks()).slice(socksBefore), [], 'no SOCKS request');
    assert.equal(await lab.call<number>('sinkConnections', 'clearnet'), clearBefore, 'no clearnet connection');
    assert.deepEqual(await delivered('clearnet', subject), []);
  });

  it('answers 451 while the daemon is down (F=T), holds local submissions, and routes both again once it is back', async () => {
    await lab.call('stopDaemon');
    const replies = await lab.call<SmtpReply[]>('smtpDialog', ['EHLO client.test', 'MAIL FROM:<alice@sender.example>', `RCPT TO:<gina@${ONION_DOMAIN}>`, `RCPT TO:<hank@${CLEARNET_DOMAIN}>`, 'DATA']);
    const transcript = replies.map((r) => r.raw).join('\n');
    assert.equal(replies[0]?.code, 250, transcript);
    // Sendmail could not open the milter at connect and, with F=T, tempfails every transaction.
    assert.match(replies[1]?.raw ?? '', /^451 4\.3\.2 /, transcript);
    assert.ok(
      replies.slice(2).every((r) => r.code !== 250 && r.code !== 354),
      `no recipient and no data accepted: ${transcript}`,
    );

    // The MSP is refused the same way and keeps the message in its own queue.
    const held = await lab.call<RunResult>(
      'msp',
      ['-t', '-f', 'alice@sender.example'],
      buildMessage([
        ['To', `ivan@${ONION_DOMAIN}`],
        ['Subject', 'sendmail local while down'],
      ]),
    );
    assert.equal(held.code, 0, JSON.stringify(held));
    const clientQueue = await lab.call<RunResult>('msp', ['-bp']);
    assert.match(clientQueue.stdout, new RegExp(`ivan@${ONION_DOMAIN.replaceAll('.', '\\.')}`), clientQueue.stdout);
    assert.match(clientQueue.stdout, /Deferred: 451 4\.3\.2 /, clientQueue.stdout);
    assert.deepEqual(await delivered('onion', 'sendmail local while down'), []);

    await lab.call('startDaemon');
    const result = await lab.call<TransactionResult>('smtp', {
      from: 'alice@sender.example',
      to: [`gina@${ONION_DOMAIN}`],
      message: buildMessage([['Subject', 'sendmail after restart']]),
    });
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const viaTor = await waitFor('onion', 'sendmail after restart');
    assert.equal(viaTor.helo, RELAY_HELO);

    // A queue run of the MSP (cron's `sendmail -Ac -q` on a stock install) hands the held message over.
    const flushed = await lab.call<RunResult>('msp', ['-q']);
    assert.equal(flushed.code, 0, JSON.stringify(flushed));
    const late = await waitFor('onion', 'sendmail local while down');
    assert.deepEqual(late.to, [`ivan@${ONION_DOMAIN}`]);
    assert.equal(late.helo, RELAY_HELO);
  });

  // Near the end: the sink keeps these messages, and `messages` would carry them over the RPC.
  it('streams a 50 MB message through the relay, whose peak RSS grows by less than 20 MB', async (t) => {
    const deliveredTo = (local: string) => () => queueWith('', [`${local}@`]);
    // The daemon's first large message, run as the unit runs it (its node flags bound V8's young
    // generation; under plain node this first message alone grows it by 21-26 MB).
    const { growth, figure } = await relayGrowthStreaming(lab, `lara@${ONION_DOMAIN}`, 'sendmail 50 MB', 50, deliveredTo('lara'));
    t.diagnostic(figure);
    assert.ok(growth < 20 * MB, figure);
  });

  it('never asked DNS about a .onion name', async () => {
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
