// The upstream half's pure parts, table by table: EHLO capabilities, MAIL/RCPT lines against what
// the server offered, Tor's failures as replies, and the reply for a route whose hops all failed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { heloCapabilities, parseEhloReply } from '../../../src/relay/upstream/capabilities.ts';
import { mailCommandLine, rcptCommandLine } from '../../../src/relay/upstream/commands.ts';
import { TOR_FAILURE_REPLIES, torFailureReply } from '../../../src/relay/upstream/tor-replies.ts';
import { combineHopFailures } from '../../../src/relay/upstream/hops.ts';
import { closingReply } from '../../../src/relay/upstream/replies.ts';
import type { UpstreamCapabilities } from '../../../src/relay/upstream/api.ts';
import type { MailParams } from '../../../src/relay/envelope.ts';
import type { TorConnectFailure, TorConnectFailureKind } from '../../../src/tor/socks-connect.ts';
import { socksReplyInfo } from '../../../src/tor/socks-reply.ts';

const TARGET = { onion: 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion', port: 25 };
const OTHER = { onion: 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion', port: 25 };
const PROXY = { kind: 'tcp', host: '127.0.0.1', port: 9050 } as const;
const NONE = heloCapabilities(false);
const ALL: UpstreamCapabilities = { pipelining: true, size: 1000, eightBitMime: true, smtpUtf8: true, dsn: true, enhancedStatusCodes: true, starttls: true, tls: false };

describe('EHLO reply -> capabilities', () => {
  const rows: readonly [string, readonly string[], boolean, Partial<UpstreamCapabilities>][] = [
    ['nothing offered', [], false, {}],
    ['PIPELINING', ['PIPELINING'], false, { pipelining: true }],
    ['SIZE with a limit', ['SIZE 10240000'], false, { size: 10_240_000 }],
    ['SIZE without a limit', ['SIZE'], false, { size: 0 }],
    ['SIZE 0', ['SIZE 0'], false, { size: 0 }],
    ['SIZE with an unreadable limit', ['SIZE lots'], false, { size: 0 }],
    ['8BITMIME', ['8BITMIME'], false, { eightBitMime: true }],
    ['SMTPUTF8', ['SMTPUTF8'], false, { smtpUtf8: true }],
    ['DSN', ['DSN'], false, { dsn: true }],
    ['ENHANCEDSTATUSCODES', ['ENHANCEDSTATUSCODES'], false, { enhancedStatusCodes: true }],
    ['STARTTLS', ['STARTTLS'], false, { starttls: true }],
    ['STARTTLS again under TLS is ignored', ['STARTTLS'], true, { starttls: false, tls: true }],
    ['keywords in any case, with parameters and blanks', ['pipelining', '  dsn  ', 'Auth PLAIN LOGIN', 'x-unknown'], false, { pipelining: true, dsn: true }],
  ];
  for (const [name, keywords, tls, expected] of rows) {
    it(name, () => {
      const reply = { code: 250, lines: ['sink.test greets [127.0.0.1]', ...keywords] };
      assert.deepEqual(parseEhloReply(reply, tls), { ...heloCapabilities(tls), ...expected });
    });
  }

  it('the greeting line names no capability', () => {
    assert.deepEqual(parseEhloReply({ code: 250, lines: ['PIPELINING'] }, false), NONE);
  });
});

describe('MAIL command line', () => {
  const mail = (params: MailParams, caps: UpstreamCapabilities, reversePath = 'a@example.org'): ReturnType<typeof mailCommandLine> => mailCommandLine({ reversePath, params }, caps, TARGET);

  const sent: readonly [string, MailParams, UpstreamCapabilities, string][] = [
    ['plain', {}, NONE, 'MAIL FROM:<a@example.org>'],
    ['SIZE= when offered', { size: 500 }, ALL, 'MAIL FROM:<a@example.org> SIZE=500'],
    ['no SIZE= when not offered', { size: 500 }, NONE, 'MAIL FROM:<a@example.org>'],
    ['SIZE= to a server without a limit', { size: 10 ** 9 }, { ...NONE, size: 0 }, `MAIL FROM:<a@example.org> SIZE=${10 ** 9}`],
    ['BODY=8BITMIME when offered', { body: '8BITMIME' }, ALL, 'MAIL FROM:<a@example.org> BODY=8BITMIME'],
    ['BODY=7BIT when 8BITMIME is offered', { body: '7BIT' }, ALL, 'MAIL FROM:<a@example.org> BODY=7BIT'],
    ['no BODY=7BIT without 8BITMIME', { body: '7BIT' }, NONE, 'MAIL FROM:<a@example.org>'],
    ['SMTPUTF8 when offered', { smtputf8: true }, ALL, 'MAIL FROM:<a@example.org> SMTPUTF8'],
    ['RET and ENVID to a DSN server', { ret: 'HDRS', envid: 'QQ314159+2B' }, ALL, 'MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ314159+2B'],
    ['no RET or ENVID without DSN', { ret: 'FULL', envid: 'x' }, { ...ALL, dsn: false }, 'MAIL FROM:<a@example.org>'],
    ['everything, in a fixed order', { size: 9, body: '8BITMIME', smtputf8: true, ret: 'FULL', envid: 'e' }, ALL, 'MAIL FROM:<a@example.org> SIZE=9 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=e'],
  ];
  for (const [name, params, caps, line] of sent) {
    it(name, () => {
      assert.deepEqual(mail(params, caps), { ok: true, line });
    });
  }

  it('the null reverse path and a UTF-8 one go out as they are', () => {
    assert.deepEqual(mail({}, NONE, ''), { ok: true, line: 'MAIL FROM:<>' });
    assert.deepEqual(mail({ smtputf8: true }, ALL, 'jörg@exämple.org'), { ok: true, line: 'MAIL FROM:<jörg@exämple.org> SMTPUTF8' });
  });

  const refused: readonly [string, MailParams, UpstreamCapabilities, number, string, RegExp][] = [
    ['SMTPUTF8 needed, not offered (RFC 6531 §3.2)', { smtputf8: true }, { ...ALL, smtpUtf8: false }, 553, '5.6.7', /SMTPUTF8/],
    ['8-bit body, no 8BITMIME (RFC 6152)', { body: '8BITMIME' }, { ...ALL, eightBitMime: false }, 554, '5.6.3', /8BITMIME/],
    ['SIZE above the limit (RFC 1870)', { size: 1001 }, ALL, 552, '5.3.4', /1001.*1000/],
    ['a reverse path with a line break', {}, ALL, 501, '5.5.4', /reverse path/],
    ['an ENVID with a space', { envid: 'a b' }, ALL, 501, '5.5.4', /ENVID/],
  ];
  for (const [name, params, caps, code, enhanced, text] of refused) {
    it(`refused without sending: ${name}`, () => {
      const r = mail(params, caps, name.includes('line break') ? 'a@b\r\nRCPT TO:<c@d>' : 'a@example.org');
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.reply.code, code);
      assert.ok(r.reply.lines[0]?.startsWith(`${enhanced} `), r.reply.lines[0]);
      assert.match(r.reply.lines.join(' '), text);
    });
  }

  it('a size exactly at the limit is sent', () => {
    assert.deepEqual(mail({ size: 1000 }, ALL), { ok: true, line: 'MAIL FROM:<a@example.org> SIZE=1000' });
  });
});

describe('RCPT command line', () => {
  const rows: readonly [string, Parameters<typeof rcptCommandLine>[0]['params'], UpstreamCapabilities, string][] = [
    ['plain', {}, ALL, 'RCPT TO:<r@example.org>'],
    ['NOTIFY and ORCPT to a DSN server', { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;r@example.org' }, ALL, 'RCPT TO:<r@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;r@example.org'],
    ['NOTIFY=NEVER', { notify: ['NEVER'] }, ALL, 'RCPT TO:<r@example.org> NOTIFY=NEVER'],
    ['no DSN parameters without DSN', { notify: ['DELAY'], orcpt: 'rfc822;r@example.org' }, { ...ALL, dsn: false }, 'RCPT TO:<r@example.org>'],
  ];
  for (const [name, params, caps, line] of rows) {
    it(name, () => {
      assert.deepEqual(rcptCommandLine({ forwardPath: 'r@example.org', params }, caps), { ok: true, line });
    });
  }

  it('no value can split the command line', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (path, orcpt) => {
      const r = rcptCommandLine({ forwardPath: path, params: { orcpt } }, ALL);
      if (r.ok) assert.ok(!/[\r\n]/.test(r.line));
      else assert.equal(r.reply.code, 501);
    }));
  });
});

describe("Tor's failures as replies", () => {
  const failure = (kind: TorConnectFailureKind, code: string, message: string, rep?: number): TorConnectFailure => ({
    ok: false,
    kind,
    rep,
    code,
    permanent: rep === undefined ? false : socksReplyInfo(rep).permanent,
    message,
  });
  const refusedBy = (rep: number): TorConnectFailure => {
    const info = socksReplyInfo(rep);
    return failure('socks-reply', info.code, `Tor refused ${TARGET.onion}:25 via 127.0.0.1:9050: ${info.words} (SOCKS reply 0x${info.code})`, rep);
  };

  // One row per code: [failure, SMTP code, enhanced code, words the text must hold].
  const rows: readonly [TorConnectFailure, number, string, RegExp][] = [
    [refusedBy(0xf0), 451, '4.4.3', /descriptor cannot be found/],
    [refusedBy(0xf1), 451, '4.4.3', /descriptor is invalid/],
    [refusedBy(0xf2), 451, '4.4.1', /introduction failed/],
    [refusedBy(0xf3), 451, '4.4.1', /rendezvous failed/],
    [refusedBy(0xf4), 451, '4.3.5', /requires client authorization.*configuration problem.*ClientOnionAuthDir/],
    [refusedBy(0xf5), 451, '4.3.5', /authorization was rejected.*configuration problem.*ClientOnionAuthDir/],
    [refusedBy(0xf6), 550, '5.1.2', /invalid onion address/],
    [refusedBy(0xf7), 451, '4.4.1', /introduction timed out/],
    [refusedBy(0x01), 451, '4.4.0', /general SOCKS server failure/],
    [refusedBy(0x02), 451, '4.3.5', /not allowed.*configuration problem/],
    [refusedBy(0x03), 451, '4.4.0', /network unreachable/],
    [refusedBy(0x04), 451, '4.4.4', /host unreachable.*ExtendedErrors/],
    [refusedBy(0x05), 451, '4.4.1', /connection refused/],
    [refusedBy(0x06), 451, '4.4.1', /TTL expired/],
    [refusedBy(0x07), 451, '4.3.5', /command not supported.*configuration problem/],
    [refusedBy(0x08), 451, '4.3.5', /address type not supported.*configuration problem/],
    [refusedBy(0xab), 451, '4.4.0', /unknown SOCKS reply code 0xAB/],
    [failure('timeout', 'timeout', `no answer from Tor (127.0.0.1:9050) for ${TARGET.onion}:25 within 150000 ms`), 451, '4.4.1', /no answer from Tor.*150000 ms/],
    [failure('proxy-unreachable', 'proxy-unreachable', 'cannot reach the Tor SocksPort 127.0.0.1:9050: connect ECONNREFUSED 127.0.0.1:9050'), 451, '4.4.1', /Tor not running or tor\.socks wrong: cannot reach the Tor SocksPort 127\.0\.0\.1:9050/],
    [failure('proxy-auth', 'proxy-auth', 'the SOCKS proxy 127.0.0.1:9050 rejected the isolation credentials (status 1)'), 451, '4.3.5', /rejected the isolation credentials.*configuration problem/],
    [failure('proxy-protocol', 'proxy-protocol', '127.0.0.1:9050 does not speak SOCKS5: method selection starts with 0x48'), 451, '4.3.5', /does not speak SOCKS5.*configuration problem/],
    [failure('aborted', 'aborted', `connect to ${TARGET.onion}:25 aborted: gone`), 451, '4.3.0', /aborted/],
  ];
  for (const [f, code, enhanced, words] of rows) {
    it(`${f.code} -> ${code} ${enhanced}`, () => {
      const reply = torFailureReply(f, TARGET, PROXY);
      assert.equal(reply.code, code);
      assert.equal(reply.lines.length, 1);
      const line = reply.lines[0] ?? '';
      assert.ok(line.startsWith(`${enhanced} `), line);
      assert.match(line, words);
      assert.ok(line.includes(`[Tor code ${f.code}]`), line);
      assert.ok(line.includes(`${TARGET.onion}:25`), `names the onion: ${line}`);
      // Exim's lmtp transport reads a reply into 256 bytes; mailq shows a deferral's first 100.
      assert.ok(`${code} ${line}\r\n`.length <= 256, `fits Exim's reply buffer (${line.length}): ${line}`);
      if (f.rep !== undefined) {
        const reason = socksReplyInfo(f.rep).words.slice(0, 30);
        assert.ok(`${code} ${line}`.slice(0, 100).includes(reason), `Tor's reason within mailq's 100 characters: ${line}`);
      }
    });
  }

  it('only F6 is permanent; every row has a table entry', () => {
    for (const [code, row] of Object.entries(TOR_FAILURE_REPLIES)) assert.equal(row.code >= 500, code === 'F6', code);
    for (const [f] of rows) if (f.code !== 'AB') assert.ok(f.code in TOR_FAILURE_REPLIES, f.code);
  });
});

describe('a route whose hops all failed', () => {
  const f0 = { target: TARGET, reply: { code: 451, lines: ['4.4.3 descriptor not found'] }, torCode: 'F0' };
  const f6 = { target: OTHER, reply: { code: 550, lines: ['5.1.2 invalid onion address'] }, torCode: 'F6' };
  const f6first = { ...f6, target: TARGET };
  const f2 = { target: OTHER, reply: { code: 451, lines: ['4.4.1 introduction failed'] }, torCode: 'F2' };

  it('one hop: its reply as it is', () => {
    assert.deepEqual(combineHopFailures([f0]), { ok: false, reply: f0.reply, torCode: 'F0' });
  });

  it('a temporary failure wins over a permanent one, wherever it is', () => {
    const r = combineHopFailures([f6first, f2]);
    assert.equal(r.reply.code, 451);
    assert.equal(r.torCode, 'F2');
    assert.deepEqual(r.reply.lines, ['4.4.1 introduction failed', `4.4.1 also tried ${TARGET.onion}:25: 550 invalid onion address`]);
  });

  it('all temporary: the first hop, the others named after it', () => {
    const r = combineHopFailures([f0, f2]);
    assert.equal(r.torCode, 'F0');
    assert.deepEqual(r.reply.lines, ['4.4.3 descriptor not found', `4.4.3 also tried ${OTHER.onion}:25: 451 introduction failed`]);
  });

  it('all permanent: the first hop, permanent', () => {
    const r = combineHopFailures([f6first, f6]);
    assert.equal(r.reply.code, 550);
    assert.equal(r.torCode, 'F6');
  });

  it('no hops at all: a temporary refusal', () => {
    assert.equal(combineHopFailures([]).reply.code, 451);
  });
});

describe("a server's 421", () => {
  it('is passed on as 451 with its text, so the MTA does not take it for the relay closing', () => {
    const r = closingReply(TARGET, { code: 421, lines: ['4.3.2 Service shutting down'] });
    assert.equal(r.code, 451);
    assert.equal(r.lines[0], '4.3.2 Service shutting down');
    assert.match(r.lines.at(-1) ?? '', /^4\.3\.2 .*answered 421/);
    const bare = closingReply(TARGET, { code: 421, lines: ['sink.test closing'] });
    assert.deepEqual(bare.lines, ['4.4.2 sink.test closing', `4.4.2 ${TARGET.onion}:25 answered 421 and closed the session`]);
  });
});
