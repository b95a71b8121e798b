import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readSocksServerBytes, socksReplyInfo } from '../../src/tor/socks-reply.ts';
import { parseSocksEndpoint, formatSocksEndpoint } from '../../src/tor/socks-endpoint.ts';
import { SmtpReplyReader, ehloCapabilities } from '../../src/tor/smtp-reply.ts';

describe('SOCKS reply codes', () => {
  it('names every Tor code and marks exactly F4, F5, F6 permanent', () => {
    for (let rep = 0xf0; rep <= 0xf7; rep++) {
      const info = socksReplyInfo(rep);
      assert.equal(info.code, `F${rep - 0xf0}`);
      assert.match(info.words, /onion/);
      assert.equal(info.permanent, rep === 0xf4 || rep === 0xf5 || rep === 0xf6, info.code);
    }
    for (const rep of [0x01, 0x04, 0x05, 0x06]) assert.equal(socksReplyInfo(rep).permanent, false);
    assert.match(socksReplyInfo(0x06).words, /timed out/);
    assert.deepEqual(socksReplyInfo(0xab), { code: 'AB', words: 'unknown SOCKS reply code 0xAB', permanent: false });
  });

  it('finds REP after no-auth and after username/password negotiation', () => {
    assert.deepEqual(readSocksServerBytes(Buffer.from([5, 0, 5, 0xf2, 0, 1, 0, 0, 0, 0, 0, 0])), { stage: 'reply', rep: 0xf2 });
    assert.deepEqual(readSocksServerBytes(Buffer.from([5, 2, 1, 0, 5, 0xf6, 0, 1])), { stage: 'reply', rep: 0xf6 });
    assert.deepEqual(readSocksServerBytes(Buffer.from([5, 2, 1, 1])), { stage: 'auth-failed', status: 1 });
    assert.deepEqual(readSocksServerBytes(Buffer.from([5, 0xff])), { stage: 'no-acceptable-method' });
    assert.deepEqual(readSocksServerBytes(Buffer.from([5, 2, 1])), { stage: 'incomplete' });
    assert.deepEqual(readSocksServerBytes(Buffer.from([5, 0, 5])), { stage: 'incomplete' });
    assert.equal(readSocksServerBytes(Buffer.from('HTTP/1.0 400')).stage, 'malformed');
    assert.equal(readSocksServerBytes(Buffer.from([5, 1])).stage, 'malformed');
  });

  it('never throws on arbitrary proxy bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const r = readSocksServerBytes(bytes);
      assert.ok(['incomplete', 'no-acceptable-method', 'auth-failed', 'reply', 'malformed'].includes(r.stage));
    }));
  });
});

describe('SocksPort address', () => {
  it('accepts host:port, [v6]:port, inet: and unix: forms', () => {
    assert.deepEqual(parseSocksEndpoint('127.0.0.1:9050'), { ok: true, endpoint: { kind: 'tcp', host: '127.0.0.1', port: 9050 } });
    assert.deepEqual(parseSocksEndpoint('[::1]:9150'), { ok: true, endpoint: { kind: 'tcp', host: '::1', port: 9150 } });
    assert.deepEqual(parseSocksEndpoint('inet:127.0.0.1:9050'), { ok: true, endpoint: { kind: 'tcp', host: '127.0.0.1', port: 9050 } });
    assert.deepEqual(parseSocksEndpoint('unix:/run/tor/socks'), { ok: true, endpoint: { kind: 'unix', path: '/run/tor/socks' } });
    assert.equal(formatSocksEndpoint({ kind: 'tcp', host: '::1', port: 9050 }), '[::1]:9050');
  });
  it('refuses bad ports and shapes with a reason', () => {
    for (const bad of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'ftp:x', '::1:9050']) {
      const r = parseSocksEndpoint(bad);
      assert.equal(r.ok, false, bad);
      if (!r.ok) assert.match(r.reason, /Tor SOCKS address/);
    }
  });
});

describe('SMTP reply reader', () => {
  it('assembles multi-line replies split at every offset', () => {
    const text = '220 mx.example ESMTP\r\n250-mx.example\r\n250-SIZE 10240000\r\n250-starttls\r\n250 PIPELINING\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const reader = new SmtpReplyReader();
      const a = reader.push(text.slice(0, cut));
      const b = reader.push(text.slice(cut));
      assert.ok(a.ok && b.ok);
      const replies = [...a.replies, ...b.replies];
      assert.equal(replies.length, 2);
      assert.equal(replies[0]?.code, 220);
      assert.deepEqual(ehloCapabilities(replies[1]!), ['SIZE 10240000', 'STARTTLS', 'PIPELINING']);
    }
  });
  it('reports garbage, code changes and overlong lines with their position', () => {
    const bad = new SmtpReplyReader().push('220 ok\r\nSSH-2.0-OpenSSH\r\n');
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.match(bad.detail, /byte 8/);
    const changed = new SmtpReplyReader().push('250-a\r\n251 b\r\n');
    assert.equal(changed.ok, false);
    const long = new SmtpReplyReader().push('2'.repeat(5000));
    assert.equal(long.ok, false);
  });
  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.array(fc.string({ maxLength: 30 }), { maxLength: 6 }), (chunks) => {
      const reader = new SmtpReplyReader();
      for (const c of chunks) if (!reader.push(c).ok) return;
    }));
  });
});
