// The lookup protocols' pure codecs: netstrings and request lines split at every offset, %XX
// encoding both ways, request parsing of every protocol, size caps and hostile input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NetstringDecoder, encodeNetstring } from '../../src/lookup/netstring.ts';
import { parseSocketmapRequest, socketmapReplyText } from '../../src/lookup/socketmap-codec.ts';
import { LineDecoder, parseTcpTableRequest, percentDecode, percentEncode, tcpTableReplyLine } from '../../src/lookup/tcp-table-codec.ts';
import { eximHostList, parseEximRequest } from '../../src/lookup/exim-codec.ts';

function splitEverywhere(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push([...bytes].map((b) => Buffer.from([b])));
  return out;
}

describe('netstring', () => {
  it('encodes the reference examples', () => {
    assert.equal(encodeNetstring('NOTFOUND ').toString(), '9:NOTFOUND ,');
    assert.equal(encodeNetstring('OK resolved.address@example.com').toString(), '31:OK resolved.address@example.com,');
    assert.equal(encodeNetstring('').toString(), '0:,');
    assert.equal(encodeNetstring('é').toString(), '2:é,');
  });

  it('decodes pipelined frames split at every offset into the same frames', () => {
    const stream = Buffer.concat([encodeNetstring('transport alice@example.org'), encodeNetstring(''), encodeNetstring('mailertable .org')]);
    for (const parts of splitEverywhere(stream)) {
      const d = new NetstringDecoder(100);
      const frames: string[] = [];
      for (const p of parts) {
        const r = d.push(p);
        assert.ok(r.ok);
        frames.push(...r.frames.map((f) => f.toString()));
      }
      assert.deepEqual(frames, ['transport alice@example.org', '', 'mailertable .org']);
      assert.equal(d.pendingBytes, 0);
    }
  });

  it('refuses a frame over the cap as soon as its length is known, before the payload', () => {
    const d = new NetstringDecoder(10);
    const r = d.push(Buffer.from('11:'));
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /11 bytes is longer than the 10-byte limit/);
    const long = new NetstringDecoder(10).push(Buffer.from('000000000000'));
    assert.equal(long.ok, false);
  });

  it('names the bad byte and its position and stays failed', () => {
    const d = new NetstringDecoder(100);
    const r = d.push(Buffer.from('3:abc,4x:'));
    assert.equal(r.ok, false);
    assert.deepEqual(r.frames.map(String), ['abc']);
    assert.match(r.ok ? '' : r.reason, /expected a digit or ':', got 'x' at byte 7/);
    assert.equal(d.push(Buffer.from('1:a,')).ok, false);
    for (const bad of ['3:abcd', ':', 'a:', '2:ab;', '-1:']) {
      assert.equal(new NetstringDecoder(100).push(Buffer.from(bad)).ok, false, bad);
    }
  });

  it('never throws and round-trips arbitrary payloads split anywhere (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), fc.nat(), (payloads, cutSeed) => {
        const stream = Buffer.concat(payloads.map((p) => encodeNetstring(p)));
        const cut = stream.length === 0 ? 0 : cutSeed % stream.length;
        const d = new NetstringDecoder(40);
        const a = d.push(stream.subarray(0, cut));
        const b = d.push(stream.subarray(cut));
        assert.ok(a.ok && b.ok);
        assert.deepEqual([...a.frames, ...b.frames].map((f) => Buffer.from(f).toString('hex')), payloads.map((p) => Buffer.from(p).toString('hex')));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        new NetstringDecoder(16).push(Buffer.from(junk));
      }),
    );
  });
});

describe('socketmap payloads', () => {
  it('parses name and key; the key may hold spaces', () => {
    assert.deepEqual(parseSocketmapRequest(Buffer.from('transport Alice@Example.ORG')), { ok: true, name: 'transport', key: 'Alice@Example.ORG' });
    assert.deepEqual(parseSocketmapRequest(Buffer.from('mailertable "a b"@x.org')), { ok: true, name: 'mailertable', key: '"a b"@x.org' });
  });

  it('refuses requests without a name, key or space, with NUL/CR/LF, or not UTF-8', () => {
    for (const bad of ['transport', ' key', 'transport ', 'm a\nb', 'm a\0b']) {
      assert.equal(parseSocketmapRequest(Buffer.from(bad)).ok, false, JSON.stringify(bad));
    }
    assert.equal(parseSocketmapRequest(Buffer.from([0x6d, 0x20, 0xff])).ok, false);
  });

  it('always writes OK with a space, NOTFOUND with its space, and single-line reasons', () => {
    assert.equal(socketmapReplyText({ status: 'OK', value: '' }), 'OK ');
    assert.equal(socketmapReplyText({ status: 'OK', value: 'smtptor:[x.onion]:25' }), 'OK smtptor:[x.onion]:25');
    assert.equal(socketmapReplyText({ status: 'NOTFOUND' }), 'NOTFOUND ');
    assert.equal(socketmapReplyText({ status: 'TEMP', reason: 'a\r\nb' }), 'TEMP a  b');
    assert.equal(socketmapReplyText({ status: 'PERM', reason: 'x' }), 'PERM x');
  });
});

describe('tcp_table', () => {
  it('percent-encodes %, whitespace and non-printable bytes, not @', () => {
    assert.equal(percentEncode('smtptor:[a.onion]:25'), 'smtptor:[a.onion]:25');
    assert.equal(percentEncode('a b%c\td@é'), 'a%20b%25c%09d@%C3%A9');
    assert.equal(percentEncode('\x7f'), '%7F');
  });

  it('decodes %XX in either case and refuses bad escapes and raw whitespace', () => {
    const d = percentDecode('a%20b%2fc%2F');
    assert.ok(d.ok);
    assert.equal(d.bytes.toString(), 'a b/c/');
    for (const bad of ['%', '%2', '%zz', 'a b', 'a\tb', 'é']) assert.equal(percentDecode(bad).ok, false, bad);
  });

  it('round-trips any text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const d = percentDecode(percentEncode(s));
        assert.ok(d.ok);
        assert.equal(d.bytes.toString('utf8'), s);
      }),
    );
  });

  it('parses get requests with encoded keys; refuses other commands, empty keys, bad escapes, NUL', () => {
    assert.deepEqual(parseTcpTableRequest(Buffer.from('get Alice%2Bx@Example.org')), { ok: true, key: 'Alice+x@Example.org' });
    assert.deepEqual(parseTcpTableRequest(Buffer.from('get %22a%20b%22@x.org')), { ok: true, key: '"a b"@x.org' });
    assert.match((parseTcpTableRequest(Buffer.from("put a b")) as { reason: string }).reason, /unsupported request "put"/);
    for (const bad of ['get ', 'get', '', 'GET a', 'get a b', 'get %0a', 'get %00', 'get %ff']) {
      assert.equal(parseTcpTableRequest(Buffer.from(bad)).ok, false, JSON.stringify(bad));
    }
  });

  it('splits pipelined lines at every offset and caps a line at 4096 bytes including the newline', () => {
    const stream = Buffer.from('get a@b.org\nget c.org\nget *\n');
    for (const parts of splitEverywhere(stream)) {
      const d = new LineDecoder(4096);
      const lines = parts.flatMap((p) => {
        const r = d.push(p);
        assert.ok(r.ok);
        return r.lines.map(String);
      });
      assert.deepEqual(lines, ['get a@b.org', 'get c.org', 'get *']);
    }
    const fits = Buffer.from(`get ${'a'.repeat(4091)}\n`);
    assert.equal(fits.length, 4096);
    assert.ok(new LineDecoder(4096).push(fits).ok);
    assert.equal(new LineDecoder(4096).push(Buffer.from(`get ${'a'.repeat(4092)}\n`)).ok, false);
    // Too long is known before the newline arrives.
    assert.equal(new LineDecoder(4096).push(Buffer.alloc(4096, 0x61)).ok, false);
  });

  it('writes replies with encoded text, a newline, and at most 4096 bytes', () => {
    assert.equal(tcpTableReplyLine({ status: 200, value: 'smtptor:[x.onion]:25' }), '200 smtptor:[x.onion]:25\n');
    assert.equal(tcpTableReplyLine({ status: 500, reason: 'not found' }), '500 not%20found\n');
    assert.equal(tcpTableReplyLine({ status: 400, reason: '100%\n' }), '400 100%25%0A\n');
    const long = tcpTableReplyLine({ status: 400, reason: ' '.repeat(5000) });
    assert.ok(long.length <= 4096);
    assert.match(long, /^400 (%20)+\n$/);
  });
});

describe('exim readsocket', () => {
  it('parses route and header requests, with or without the newline, CRLF tolerated', () => {
    assert.deepEqual(parseEximRequest(Buffer.from('route Bob@Example.org\n')), { ok: true, kind: 'route', key: 'Bob@Example.org' });
    assert.deepEqual(parseEximRequest(Buffer.from('route example.org')), { ok: true, kind: 'route', key: 'example.org' });
    assert.deepEqual(parseEximRequest(Buffer.from('header a.org  b.org\r\n')), { ok: true, kind: 'header', domains: ['a.org', 'b.org'] });
  });

  it('refuses unknown verbs, missing or extra arguments, addresses in header, control characters', () => {
    for (const bad of ['', '\n', 'lookup a.org', 'route', 'route a b', 'header', 'header a@b.org', 'route a\x01b']) {
      assert.equal(parseEximRequest(Buffer.from(bad)).ok, false, JSON.stringify(bad));
    }
    assert.equal(parseEximRequest(Buffer.from([0x72, 0xff])).ok, false);
  });

  it('writes host lists with doubled colons before ports', () => {
    assert.equal(eximHostList([{ onion: 'a.onion', port: 25 }]), 'a.onion::25');
    assert.equal(eximHostList([{ onion: 'a.onion', port: 25 }, { onion: 'b.onion', port: 2525 }]), 'a.onion::25:b.onion::2525');
  });
});
