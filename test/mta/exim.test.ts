// Real Exim (Debian's exim4-daemon-light, unpacked) running examples/exim/exim.conf as shipped,
// inside a loopback-only network namespace (exim-lab.ts). Proves, by actual delivery:
// - one message for an onion-routed domain and a clearnet domain is split per recipient: the onion
//   recipient leaves through the lmtp transport to the daemon's relay, which connects the onion by
//   name through the fake Tor (no socks_proxy, no DNS for the onion), the clearnet one by MX;
// - the onion's 550 for one of two recipients bounces that one and delivers the other once; its
//   451 after the data defers the message, and a forced retry delivers it once;
// - an onion that never answers the final dot is given up on by the relay: 451 4.4.2, deferred;
// - Tor's F2, F4 and F7 defer the recipient with Tor's reason in Exim's log, F6 bounces it 5.1.2;
// - the relay stopped, or the Tor stand-in stopped, while the onion owes its answer to the final
//   dot: the message stays queued and is delivered once after the restart;
// - an 8-bit SMTPUTF8 message with DSN parameters (the example offers DSN to relay_from_hosts;
//   SMTPUTF8 is on by default in an I18N build) reaches the onion byte for byte, parameters passed on;
// - a 50 MB message is streamed through the relay, whose peak RSS grows by less than 20 MB
//   (the lab raises Exim's 50 MB message_size_limit to 60 MB);
// - a recipient whose route vanished between RCPT and delivery (SIGHUP removing the pin) is
//   deferred by the relay (451 4.4.4), and nothing reaches the clearnet;
// - a queued message waits while the relay is down and is delivered once after its restart;
// - a forged routing header from the client is removed and the daemon's header added, over SMTP
//   and for local submissions (acl_not_smtp);
// - no `.onion` name is ever asked of DNS.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { needSetup, eximBinary } from '../helpers/exim-install.ts';
import { startNetnsWorker, type NetnsWorker } from '../helpers/netns.ts';
import { EXIM_LAB_SCRIPT, type LabInfo } from '../helpers/exim-lab-fixtures.ts';
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
import { dataSection, type TransactionResult } from '../helpers/smtp-client.ts';
import type { SubmitResult } from '../helpers/exim.ts';
import { buildMessage, headerValues, utf8Message } from '../helpers/smtp-message.ts';
import { literal, relayConnect, relayGrowthStreaming, sendMixedMessage } from '../helpers/mta-lab-checks.ts';

const skip = needRoot() || needPrograms('ip', 'unshare', 'mount', 'apt-get', 'dpkg-deb') || needSetup('Exim (unpacked exim4-daemon-light)', () => void eximBinary());

const FORGED = `${ONION_DOMAIN}=forgedforgedforgedforgedforgedforgedforgedforgedforgedfo.onion:25`;

const MB = 1024 * 1024;

describe('real Exim routing onion mail per recipient', { skip, timeout: 300_000 }, () => {
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
  const delivered = async (sink: 'onion' | 'clearnet', subject: string): Promise<SinkMessage[]> =>
    (await lab.call<SinkMessage[]>('messages', sink)).filter((m) => m.data.includes(`Subject: ${subject}\r\n`));
  const socks = (): Promise<SocksSeen[]> => lab.call<SocksSeen[]>('socksRequests');
  const mark = (): Promise<number> => lab.call<number>('daemonLogMark');
  /** The relay's line for a delivery to `domain` after `since` in which a recipient there got `outcome`. */
  const relayLine = (domain: string, since: number, outcome: 'delivered' | 'deferred' | 'bounced'): Promise<RelayDeliveryLine> =>
    lab.call<RelayDeliveryLine>('relayDelivery', domain, since, outcome);
  const logMark = (): Promise<number> => lab.call<number>('logMark');
  /** The first mainlog line after `since` matching `pattern` (a regular expression's source). */
  const logLine = (pattern: string, since: number): Promise<string> => lab.call<string>('waitForLog', `^.*${pattern}.*$`, since);
  const send = (from: string, to: string[], subject: string): Promise<TransactionResult> =>
    lab.call<TransactionResult>('smtp', { from, to, message: buildMessage([['Subject', subject]]) });
  /**
   * `T=onionmx_relay` deliveries and failures of `address`, as Exim logs them (`=>`, `**`, `==`;
   * lmtp is a local transport, so a delivery reads `=> bob <bob@example>`).
   */
  const viaRelay = (flag: '=>' | '\\*\\*' | '==', address: string): string => `${flag} (?:\\S+ <)?${literal(address)}>? R=onionmx_route T=onionmx_relay`;

  it('splits one SMTP message: the onion recipient through the relay and Tor (no socks_proxy), the clearnet one by MX; the forged header is replaced', async () => {
    const since = await mark();
    const { clear } = await sendMixedMessage(lab, 'exim smtp mixed', FORGED);
    assert.deepEqual(headerValues(clear.data, HEADER), [EXPECTED_HEADER], 'one copy of the message, one header');

    // The relay asked Tor for the onion by name; nothing went to Tor by address.
    const seen = await socks();
    assert.ok(seen.some(relayConnect), JSON.stringify(seen));
    assert.ok(seen.every((r) => r.atyp === 3 && r.destination.endsWith('.onion:25')), `only onion names go to Tor: ${JSON.stringify(seen)}`);
    const line = await relayLine(ONION_DOMAIN, since, 'delivered');
    assert.equal(line.relay, 'lmtp');
    assert.deepEqual(line.recipients.map((r) => [r.domain, r.outcome, r.reply]), [[ONION_DOMAIN, 'delivered', '250 2.0.0']]);
    const log = await lab.call<string>('mainLog');
    assert.match(log, new RegExp(viaRelay('=>', `bob@${ONION_DOMAIN}`)));
    assert.match(log, new RegExp(`=> carol@${literal(CLEARNET_DOMAIN)} R=dnslookup T=remote_smtp H=mx\\.${literal(CLEARNET_DOMAIN)} \\[127\\.0\\.0\\.2\\]`));
  });

  it('bounces the recipient the onion refuses with 550 and delivers the other once', async () => {
    const subject = 'exim one refused';
    const [since, logSince] = [await mark(), await logMark()];
    const result = await send(`alice@${CLEARNET_DOMAIN}`, [`${UNKNOWN_USER}@${ONION_DOMAIN}`, `olga@${ONION_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    assert.match(await logLine(viaRelay('\\*\\*', `${UNKNOWN_USER}@${ONION_DOMAIN}`), logSince), /550 5\.1\.1 /);
    await logLine(viaRelay('=>', `olga@${ONION_DOMAIN}`), logSince);
    const dsn = await waitFor('clearnet', subject);
    assert.equal(dsn.from, '');
    assert.deepEqual(dsn.to, [`alice@${CLEARNET_DOMAIN}`]);
    assert.match(dsn.data, new RegExp(`${literal(`${UNKNOWN_USER}@${ONION_DOMAIN}`)}[\\s\\S]*550 5\\.1\\.1`));
    assert.doesNotMatch(dsn.data, /olga@/);
    assert.deepEqual((await delivered('onion', subject)).map((m) => m.to), [[`olga@${ONION_DOMAIN}`]]);
    const line = await relayLine(ONION_DOMAIN, since, 'bounced');
    assert.deepEqual(line.recipients.map((r) => `${r.outcome} ${r.reply}`), ['bounced 550 5.1.1', 'delivered 250 2.0.0']);
  });

  it('defers the message the onion answers 451 after the data, and delivers it once when retried', async () => {
    const subject = `exim tempfail ${TEMPFAIL_ONCE}`;
    const logSince = await logMark();
    const result = await send('alice@sender.example', [`retry-me@${ONION_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const deferral = await logLine(viaRelay('==', `retry-me@${ONION_DOMAIN}`), logSince);
    assert.match(deferral, /451 4\.3\.0 Try again later/);
    assert.deepEqual(await delivered('onion', subject), []);
    const id = /^\S+ \S+ (\S+) ==/.exec(deferral)?.[1] ?? '';
    await lab.call<string>('exim', ['-M', id]);
    await logLine(`${literal(id)} ${viaRelay('=>', `retry-me@${ONION_DOMAIN}`)}`, logSince);
    const late = await waitFor('onion', subject);
    assert.deepEqual(late.to, [`retry-me@${ONION_DOMAIN}`]);
    await logLine(`${literal(id)} Completed`, logSince);
    assert.equal((await delivered('onion', subject)).length, 1, 'delivered once');
  });

  it('defers the message when the onion never answers the final dot (the relay times out)', async () => {
    const subject = `exim hang ${HANG_AFTER_DATA}`;
    const [since, logSince] = [await mark(), await logMark()];
    const result = await send('alice@sender.example', [`hugo@${ONION_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    assert.match(await logLine(viaRelay('==', `hugo@${ONION_DOMAIN}`), logSince), / 451 4\.4\.2 /);
    const line = await relayLine(ONION_DOMAIN, since, 'deferred');
    assert.deepEqual(line.recipients.map((r) => [r.outcome, r.reply]), [['deferred', '451 4.4.2']]);
    assert.deepEqual(await delivered('onion', subject), []);
  });

  it("defers a recipient on Tor's F2 with Tor's reason in Exim's log, and bounces one on F6 with 5.1.2", async () => {
    const subject = 'exim tor failures';
    const [since, logSince] = [await mark(), await logMark()];
    const result = await send(`alice@${CLEARNET_DOMAIN}`, [`dora@${TOR_F2_DOMAIN}`, `earl@${TOR_F6_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    assert.match(await logLine(viaRelay('==', `dora@${TOR_F2_DOMAIN}`), logSince), /451 4\.4\.1 .*introduction.*\[Tor code F2\]/i);
    assert.match(await logLine(viaRelay('\\*\\*', `earl@${TOR_F6_DOMAIN}`), logSince), /550 5\.1\.2 .*\[Tor code F6\]/);
    const dsn = await waitFor('clearnet', subject);
    assert.match(dsn.data, new RegExp(`earl@${literal(TOR_F6_DOMAIN)}[\\s\\S]*550 5\\.1\\.2`));
    // One LMTP transaction for both onions (Exim batches recipients per host, here the relay), each with Tor's answer for its own.
    const line = await relayLine(TOR_F2_DOMAIN, since, 'deferred');
    assert.deepEqual(line.recipients.map((r) => [r.domain, r.outcome, r.tor]), [[TOR_F2_DOMAIN, 'deferred', 'F2'], [TOR_F6_DOMAIN, 'bounced', 'F6']]);
  });

  it("defers recipients on Tor's F4 and F7 with Tor's reason in Exim's log", async () => {
    const subject = 'exim tor f4 f7';
    const [since, logSince] = [await mark(), await logMark()];
    const result = await send('alice@sender.example', [`fred@${TOR_F4_DOMAIN}`, `fred@${TOR_F7_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    assert.match(await logLine(viaRelay('==', `fred@${TOR_F4_DOMAIN}`), logSince), /451 4\.3\.5 .*ClientOnionAuthDir.*\[Tor code F4\]/);
    assert.match(await logLine(viaRelay('==', `fred@${TOR_F7_DOMAIN}`), logSince), /451 4\.4\.1 .*\[Tor code F7\]/);
    const line = await relayLine(TOR_F4_DOMAIN, since, 'deferred');
    const byDomain = Object.fromEntries(line.recipients.map((r) => [r.domain, [r.outcome, r.reply, r.tor]]));
    assert.deepEqual(byDomain, { [TOR_F4_DOMAIN]: ['deferred', '451 4.3.5', 'F4'], [TOR_F7_DOMAIN]: ['deferred', '451 4.4.1', 'F7'] });
    assert.deepEqual(await delivered('onion', subject), []);
  });

  // Stopped, the relay answers what it owes (451) before it closes; killed, it just goes away.
  const stops = [
    ['stopped (SIGTERM)', 'stopDaemon', 'hedy', /LMTP error after DATA: 451 4\.3\.2 Relay shutting down before the onion's server answered/],
    ['killed (SIGKILL)', 'killDaemon', 'kira', /Remote host closed connection in response to end of data$/],
  ] as const;
  for (const [how, stopRpc, local, deferredBecause] of stops) {
    it(`keeps the message queued when the relay is ${how} while the onion owes its final reply, and delivers it once after the restart`, async () => {
      const subject = `exim relay ${how} ${HANG_ONCE}`;
      const rcpt = `${local}@${ONION_DOMAIN}`;
      const logSince = await logMark();
      const result = await send('alice@sender.example', [rcpt], subject);
      assert.equal(result.data?.code, 250, JSON.stringify(result));
      await lab.call('waitForHeldFinalDot', subject);
      await lab.call(stopRpc);
      let id = '';
      try {
        const deferral = await logLine(viaRelay('==', rcpt), logSince);
        assert.match(deferral, deferredBecause);
        id = /^\S+ \S+ (\S+) ==/.exec(deferral)?.[1] ?? '';
        assert.deepEqual(await delivered('onion', subject), []);
      } finally {
        await lab.call('startDaemon');
      }
      const upSince = await logMark();
      await lab.call<string>('exim', ['-M', id]);
      await logLine(`${literal(id)} ${viaRelay('=>', rcpt)}`, upSince);
      await logLine(`${literal(id)} Completed`, upSince);
      assert.deepEqual((await delivered('onion', subject)).map((m) => m.to), [[rcpt]], 'delivered once');
    });
  }

  it('keeps the message queued when Tor stops while the onion owes its final reply ("Tor not running" while down), and delivers it once when Tor is back', async () => {
    const subject = `exim tor stopped ${HANG_ONCE}`;
    const rcpt = `iris@${ONION_DOMAIN}`;
    const logSince = await logMark();
    const result = await send('alice@sender.example', [rcpt], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    await lab.call('waitForHeldFinalDot', subject);
    await lab.call('stopTor');
    let id = '';
    try {
      const lost = await logLine(viaRelay('==', rcpt), logSince);
      assert.match(lost, / 451 4\.4\.2 /);
      id = /^\S+ \S+ (\S+) ==/.exec(lost)?.[1] ?? '';
      const downSince = await logMark();
      await lab.call<string>('exim', ['-M', id]);
      assert.match(await logLine(`${literal(id)} ${viaRelay('==', rcpt)}`, downSince), /451 4\.4\.1 .*Tor not running/);
      assert.deepEqual(await delivered('onion', subject), []);
    } finally {
      await lab.call('startTor');
    }
    const upSince = await logMark();
    await lab.call<string>('exim', ['-M', id]);
    await logLine(`${literal(id)} ${viaRelay('=>', rcpt)}`, upSince);
    await logLine(`${literal(id)} Completed`, upSince);
    assert.deepEqual((await delivered('onion', subject)).map((m) => m.to), [[rcpt]], 'delivered once');
  });

  it('passes an 8-bit SMTPUTF8 message with DSN parameters byte for byte through the relay to the onion', async () => {
    const subject = 'exim utf8 dsn';
    const rcpt = `zoë@${ONION_DOMAIN}`;
    const message = utf8Message('jörg@sender.example', rcpt, subject, 'utf8-test@sender.example');
    const codes = await lab.call<number[]>('smtpDialog', [
      'EHLO client.test',
      'MAIL FROM:<jörg@sender.example> SMTPUTF8 BODY=8BITMIME RET=HDRS ENVID=env+2B1',
      `RCPT TO:<${rcpt}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;nina@${ONION_DOMAIN}`,
      'DATA',
      dataSection(message).slice(0, -2),
    ]);
    assert.deepEqual(codes, [250, 250, 250, 354, 250]);
    const m = await waitFor('onion', subject);
    assert.equal(m.helo, RELAY_HELO);
    // The sink decodes the bytes as UTF-8: valid UTF-8 decodes losslessly, so equal text is equal bytes.
    assert.ok(m.data.endsWith(message), `the message arrived byte for byte:\n${m.data}`);
    const added = m.data.slice(0, m.data.length - message.length);
    assert.match(added, /^Received: [^\r\n]*(\r\n[ \t][^\r\n]*)*\r\n$/, `only Exim's Received header was added:\n${added}`);
    assert.equal(m.from, 'jörg@sender.example');
    // Exim 4.96's MAIL to the relay carries SMTPUTF8 and the DSN parameters, but neither SIZE nor
    // BODY=8BITMIME (Postfix sends both): the 8-bit data arrives intact all the same.
    assert.deepEqual(m.mailParams, ['SMTPUTF8', 'RET=HDRS', 'ENVID=env+2B1']);
    assert.deepEqual(m.recipients, [{ address: rcpt, params: ['NOTIFY=SUCCESS,FAILURE', `ORCPT=rfc822;nina@${ONION_DOMAIN}`] }]);
  });

  it('defers a recipient whose route vanished between RCPT and delivery (pin removed by SIGHUP); nothing reaches the clearnet', async () => {
    const subject = 'exim route vanished';
    const [since, logSince] = [await mark(), await logMark()];
    const socksBefore = (await socks()).length;
    const clearBefore = await lab.call<number>('sinkConnections', 'clearnet');
    const result = await lab.call<TransactionResult>('smtpUnpinningBeforeData', {
      from: 'alice@sender.example',
      to: [`pat@${PINNED_DOMAIN}`],
      message: buildMessage([['Subject', subject]]),
    });
    assert.equal(result.rcpts[0]?.reply.code, 250, JSON.stringify(result));
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    assert.match(await logLine(viaRelay('==', `pat@${PINNED_DOMAIN}`), logSince), /451 4\.4\.4 No onion route/);
    const line = await relayLine(PINNED_DOMAIN, since, 'deferred');
    assert.deepEqual(line.recipients.map((r) => [r.outcome, r.reply]), [['deferred', '451 4.4.4']]);
    assert.deepEqual((await socks()).slice(socksBefore), [], 'no SOCKS request');
    assert.equal(await lab.call<number>('sinkConnections', 'clearnet'), clearBefore, 'no clearnet connection');
    assert.deepEqual(await delivered('clearnet', subject), []);
  });

  it('keeps a queued message while the relay is down, and delivers it once after the restart', async () => {
    const subject = `exim relay down ${TEMPFAIL_ONCE}`;
    const logSince = await logMark();
    const result = await send('alice@sender.example', [`wait-me@${ONION_DOMAIN}`], subject);
    assert.equal(result.data?.code, 250, JSON.stringify(result));
    const first = await logLine(viaRelay('==', `wait-me@${ONION_DOMAIN}`), logSince);
    const id = /^\S+ \S+ (\S+) ==/.exec(first)?.[1] ?? '';

    await lab.call('stopDaemon');
    try {
      const downSince = await logMark();
      await lab.call<string>('exim', ['-M', id]);
      assert.match(await logLine(`${literal(id)} ${viaRelay('==', `wait-me@${ONION_DOMAIN}`)}`, downSince), /Connection refused/);
      assert.deepEqual(await delivered('onion', subject), []);
    } finally {
      await lab.call('startDaemon');
    }
    const upSince = await logMark();
    await lab.call<string>('exim', ['-M', id]);
    await logLine(`${literal(id)} ${viaRelay('=>', `wait-me@${ONION_DOMAIN}`)}`, upSince);
    await logLine(`${literal(id)} Completed`, upSince);
    assert.deepEqual((await delivered('onion', subject)).map((m) => m.to), [[`wait-me@${ONION_DOMAIN}`]], 'delivered once');
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
    assert.equal(viaTor.helo, RELAY_HELO);
    assert.deepEqual(headerValues(viaTor.data, HEADER), [], 'the relay strips the routing header');
    const clear = await waitFor('clearnet', 'exim local mixed');
    assert.deepEqual(clear.to, [`frank@${CLEARNET_DOMAIN}`]);
    assert.deepEqual(headerValues(clear.data, HEADER), [EXPECTED_HEADER]);
  });

  it('never asked DNS about a .onion name', async () => {
    const upstream = await lab.call<string[]>('upstreamDnsQueries');
    assert.ok(upstream.some((q) => q.startsWith(`_onion-mx._tcp.${ONION_DOMAIN} SRV`)), `the daemon's SRV lookup went there: ${upstream.join(', ')}`);
    assert.ok(upstream.some((q) => q === `${CLEARNET_DOMAIN} MX`), `Exim's MX lookup went there: ${upstream.join(', ')}`);
    const onionName = (q: string): boolean => /\.onion\.?$/.test(q.split(' ')[0] ?? '');
    assert.deepEqual(upstream.filter(onionName), []);
    // Exim's own resolver neither: it hands onion mail to the relay and never resolves an onion.
    assert.deepEqual((await lab.call<string[]>('resolverQuestions')).filter(onionName), []);
  });

  // Near the end: the sink keeps these messages, and `messages` would carry them over the RPC.
  it('streams a 50 MB message through the relay, whose peak RSS grows by less than 20 MB', async (t) => {
    const deliveredTo = (local: string, since: number) => () => logLine(viaRelay('=>', `${local}@${ONION_DOMAIN}`), since);
    // The daemon's first large message, run as the unit runs it (its node flags bound V8's young
    // generation; under plain node this first message alone grows it by 21-26 MB).
    const { growth, figure } = await relayGrowthStreaming(lab, `lara@${ONION_DOMAIN}`, 'exim 50 MB', 50, deliveredTo('lara', await logMark()));
    t.diagnostic(figure);
    assert.ok(growth < 20 * MB, figure);
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
