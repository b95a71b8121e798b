// Extended DNS Errors (RFC 8914): the pure codec (option 15 of the OPT record: a 2-octet INFO-CODE,
// then UTF-8 EXTRA-TEXT), and how the stub resolver turns a SERVFAIL that carries a DNSSEC one into
// the `bogus` failure, against the in-process fixture server.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { encode, type Answer, type PacketOpt } from 'dns-packet';
import {
  createStubResolver,
  decodeExtendedError,
  describeExtendedError,
  extendedErrorsOf,
  isDnssecBogusCode,
  type DnsQueryResult,
  type DnsServerSpec,
} from '../../../src/resolve/dns/index.ts';
import { decodeMessage, EDE_TEXT_MAX } from '../../../src/resolve/dns/message.ts';
import { startDnsServer, type DnsTestServer, type FixtureReply } from '../../helpers/dns-server.ts';

/** EDE option data: INFO-CODE then the raw text bytes. */
function edeData(infoCode: number, text: string | Buffer = ''): Buffer {
  const code = Buffer.alloc(2);
  code.writeUInt16BE(infoCode);
  return Buffer.concat([code, typeof text === 'string' ? Buffer.from(text, 'utf8') : text]);
}

/** A SERVFAIL response whose OPT record carries these options, through dns-packet's encoder and our decoder. */
function responseWith(options: readonly { code: number; data: Buffer }[], extra: { withoutOpt?: boolean } = {}): Buffer {
  const opt: Answer = { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: options as unknown as PacketOpt[] };
  return encode({
    type: 'response',
    id: 1,
    flags: 2,
    questions: [{ name: '_onion-mx._tcp.example.org', type: 'SRV', class: 'IN' }],
    additionals: extra.withoutOpt === true ? [] : [opt],
  });
}

function edesOf(bytes: Buffer): ReturnType<typeof extendedErrorsOf> {
  const decoded = decodeMessage(bytes);
  assert.ok(decoded.ok, decoded.ok ? '' : decoded.detail);
  return extendedErrorsOf(decoded.packet);
}

describe('Extended DNS Error codec', () => {
  it('decodes a well-formed option: INFO-CODE and EXTRA-TEXT', () => {
    assert.deepEqual(decodeExtendedError(edeData(6, 'validation failure <x. SRV IN>: signature crypto failed')), {
      infoCode: 6,
      extraText: 'validation failure <x. SRV IN>: signature crypto failed',
    });
    assert.deepEqual(decodeExtendedError(edeData(7)), { infoCode: 7, extraText: '' }, 'EXTRA-TEXT may be empty');
    assert.deepEqual(decodeExtendedError(edeData(0x1234, 'ü ✓')), { infoCode: 0x1234, extraText: 'ü ✓' }, 'big-endian code, UTF-8 text');
  });

  it('rejects option data too short for an INFO-CODE', () => {
    assert.equal(decodeExtendedError(Buffer.alloc(0)), undefined);
    assert.equal(decodeExtendedError(Buffer.from([0x00])), undefined);
  });

  it('cleans EXTRA-TEXT: trailing NULs dropped, control characters and bad UTF-8 replaced, long text cut', () => {
    assert.equal(decodeExtendedError(edeData(6, 'bogus\0\0'))?.extraText, 'bogus');
    assert.equal(decodeExtendedError(edeData(6, 'line\nforged: yes\x1b[31m'))?.extraText, 'line\ufffdforged: yes\ufffd[31m');
    assert.equal(decodeExtendedError(edeData(6, Buffer.from([0x61, 0xff, 0x62])))?.extraText, 'a\ufffdb');
    const long = decodeExtendedError(edeData(6, '😀'.repeat(EDE_TEXT_MAX + 10)))?.extraText ?? '';
    assert.equal(Array.from(long).length, EDE_TEXT_MAX + 1);
    assert.ok(long.endsWith('😀…'), 'cut on a code point, never inside a surrogate pair');
  });

  it('names the RFC 8914 codes and reports unknown ones by number', () => {
    assert.equal(describeExtendedError({ infoCode: 6, extraText: 'why' }), 'EDE 6 (DNSSEC Bogus): why');
    assert.equal(describeExtendedError({ infoCode: 12, extraText: '' }), 'EDE 12 (NSEC Missing)');
    assert.equal(describeExtendedError({ infoCode: 22, extraText: '' }), 'EDE 22 (No Reachable Authority)');
    assert.equal(describeExtendedError({ infoCode: 49152, extraText: 'private' }), 'EDE 49152: private');
  });

  it('counts codes 6-12 as DNSSEC-bogus, and nothing else', () => {
    const bogus = Array.from({ length: 40 }, (_, i) => i).filter(isDnssecBogusCode);
    assert.deepEqual(bogus, [6, 7, 8, 9, 10, 11, 12]);
    assert.equal(isDnssecBogusCode(65535), false);
  });

  it('reads every EDE option of a message in wire order, skipping other options and malformed EDEs', () => {
    const edes = edesOf(responseWith([
      { code: 10, data: Buffer.alloc(8, 1) }, // a cookie
      { code: 15, data: edeData(22, 'no reachable authority at 192.0.2.1') },
      { code: 15, data: Buffer.from([0x00]) }, // too short
      { code: 12, data: Buffer.alloc(4) }, // padding
      { code: 15, data: edeData(9) },
      { code: 15, data: edeData(49999, 'unknown') },
    ]));
    assert.deepEqual(edes, [
      { infoCode: 22, extraText: 'no reachable authority at 192.0.2.1' },
      { infoCode: 9, extraText: '' },
      { infoCode: 49999, extraText: 'unknown' },
    ]);
  });

  it('finds none without an OPT record or without EDE options', () => {
    assert.deepEqual(edesOf(responseWith([], { withoutOpt: true })), []);
    assert.deepEqual(edesOf(responseWith([])), []);
    assert.deepEqual(edesOf(responseWith([{ code: 12, data: Buffer.alloc(2) }])), []);
  });

  it('never throws on an EDE option cut short on the wire: what arrived is read, a cut INFO-CODE is skipped', () => {
    const whole = responseWith([{ code: 15, data: edeData(6, 'validation failure') }]);
    const texts: string[] = [];
    let skipped = 0;
    for (let cut = whole.length; cut > whole.length - 30; cut--) {
      const decoded = decodeMessage(whole.subarray(0, cut));
      if (!decoded.ok) continue; // the OPT header itself cut: the whole message is undecodable
      const edes = extendedErrorsOf(decoded.packet);
      if (edes.length === 0) skipped++;
      for (const ede of edes) {
        assert.equal(ede.infoCode, 6);
        texts.push(ede.extraText);
      }
    }
    // dns-packet hands over the bytes that arrived: the text is cut, never garbage from elsewhere.
    assert.equal(texts[0], 'validation failure');
    assert.ok(texts.includes('validation f') && texts.includes(''), JSON.stringify(texts));
    for (const t of texts) assert.ok('validation failure'.startsWith(t), t);
    assert.ok(skipped > 0, 'an option with a 1-octet INFO-CODE is skipped');
  });
});

describe('stub resolver: SERVFAIL with Extended DNS Errors', () => {
  const OWNER = '_onion-mx._tcp.example.org';
  let server: DnsTestServer;
  let other: DnsTestServer;
  const query = (reply: FixtureReply, spec: Partial<DnsServerSpec> = {}): Promise<DnsQueryResult> => {
    server.setBehaviour(() => reply);
    return createStubResolver({ servers: [{ address: server.address, port: server.port, ...spec }], attemptTimeoutMs: 500, attempts: 1 }).query(OWNER, 'SRV');
  };
  const failure = (r: DnsQueryResult): Extract<DnsQueryResult, { ok: false }> => {
    assert.equal(r.ok, false, JSON.stringify(r));
    return r;
  };

  before(async () => {
    const zones = [{ origin: 'example.org', records: [{ name: OWNER, type: 'SRV' as const, ttl: 300, data: { priority: 0, weight: 5, port: 25, target: 'x.onion' } }] }];
    server = await startDnsServer({ zones });
    other = await startDnsServer({ zones });
  });
  after(async () => {
    await server.close();
    await other.close();
  });
  beforeEach(() => {
    server.queries.length = 0;
  });

  it('a SERVFAIL with EDE 6 from a loopback resolver is `bogus`, with the EDE text in the detail', async () => {
    const r = failure(await query({ kind: 'servfail', ede: [{ infoCode: 6, text: 'validation failure <example.org. SRV IN>: signature crypto failed' }] }));
    assert.equal(r.reason, 'bogus');
    assert.equal(r.detail, `127.0.0.1:${server.port} answered SERVFAIL: EDE 6 (DNSSEC Bogus): validation failure <example.org. SRV IN>: signature crypto failed`);
    assert.deepEqual(r.extendedErrors, [{ infoCode: 6, extraText: 'validation failure <example.org. SRV IN>: signature crypto failed' }]);
    assert.equal(server.queries.length, 1, 'one attempt, one query');
  });

  it('every DNSSEC code 6-12 makes it `bogus`; other codes leave it `servfail`', async () => {
    for (let code = 0; code <= 24; code++) {
      const r = failure(await query({ kind: 'servfail', ede: [{ infoCode: code }] }));
      assert.equal(r.reason, code >= 6 && code <= 12 ? 'bogus' : 'servfail', `EDE ${code}`);
      assert.match(r.detail, new RegExp(`answered SERVFAIL: EDE ${code} \\(`));
    }
    const unknown = failure(await query({ kind: 'servfail', ede: [{ infoCode: 50000, text: 'private use' }] }));
    assert.equal(unknown.reason, 'servfail');
    assert.match(unknown.detail, /answered SERVFAIL: EDE 50000: private use$/);
  });

  it('a plain SERVFAIL stays `servfail`, without extended errors', async () => {
    const r = failure(await query({ kind: 'servfail' }));
    assert.deepEqual(r, { ok: false, reason: 'servfail', detail: `127.0.0.1:${server.port} answered SERVFAIL` });
  });

  it('a malformed EDE next to a well-formed non-DNSSEC one: `servfail`, the good one reported', async () => {
    const r = failure(await query({ kind: 'servfail', ednsOptions: [{ code: 15, data: Buffer.from([0x00]) }, { code: 15, data: edeData(23, 'network error') }] }));
    assert.equal(r.reason, 'servfail');
    assert.deepEqual(r.extendedErrors, [{ infoCode: 23, extraText: 'network error' }]);
    const lone = failure(await query({ kind: 'servfail', ednsOptions: [{ code: 15, data: Buffer.from([0x00]) }] }));
    assert.equal(lone.reason, 'servfail');
    assert.equal(lone.extendedErrors, undefined);
  });

  it('several EDEs: any DNSSEC one makes it `bogus`; all are listed in wire order', async () => {
    const r = failure(await query({ kind: 'servfail', ede: [{ infoCode: 22, text: 'no reachable authority' }, { infoCode: 7, text: 'expired' }] }));
    assert.equal(r.reason, 'bogus');
    assert.match(r.detail, /answered SERVFAIL: EDE 22 \(No Reachable Authority\): no reachable authority; EDE 7 \(Signature Expired\): expired$/);
    assert.deepEqual(r.extendedErrors?.map((e) => e.infoCode), [22, 7]);
  });

  it('trusts EDE only where it trusts the AD bit: from a server that is not, it stays `servfail`, marked', async () => {
    const r = failure(await query({ kind: 'servfail', ede: [{ infoCode: 6, text: 'said an untrusted server' }] }, { trustAd: false }));
    assert.equal(r.reason, 'servfail');
    assert.match(r.detail, /answered SERVFAIL \(not trusted, from a server that is neither loopback nor trust_ad: EDE 6 \(DNSSEC Bogus\): said an untrusted server\)$/);
    assert.deepEqual(r.extendedErrors, [{ infoCode: 6, extraText: 'said an untrusted server' }], 'still reported, for diagnostics');
    const trusted = failure(await query({ kind: 'servfail', ede: [{ infoCode: 6 }] }, { trustAd: true }));
    assert.equal(trusted.reason, 'bogus');
  });

  it('a DNSSEC EDE changes nothing but SERVFAIL: REFUSED stays `refused`', async () => {
    const r = failure(await query({ kind: 'refused', ede: [{ infoCode: 18, text: 'not for you' }] }));
    assert.equal(r.reason, 'refused');
    assert.match(r.detail, /answered REFUSED: EDE 18 \(Prohibited\): not for you$/);
    const dnssec = failure(await query({ kind: 'refused', ede: [{ infoCode: 6 }] }));
    assert.equal(dnssec.reason, 'refused');
  });

  it('reports EDEs on a usable answer without changing it', async () => {
    server.setBehaviour(() => ({ kind: 'zone', ad: true, ede: [{ infoCode: 3, text: 'served stale' }] }));
    const r = await createStubResolver({ servers: [{ address: server.address, port: server.port }], attempts: 1 }).query(OWNER, 'SRV');
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.authenticated, true);
    assert.equal(r.answers.length, 1);
    assert.deepEqual(r.extendedErrors, [{ infoCode: 3, extraText: 'served stale' }]);
    server.setBehaviour(() => ({ kind: 'zone' }));
    const plain = await createStubResolver({ servers: [{ address: server.address, port: server.port }], attempts: 1 }).query(OWNER, 'SRV');
    assert.ok(plain.ok && !('extendedErrors' in plain), JSON.stringify(plain));
  });

  it('over TCP too (a truncated UDP reply, then SERVFAIL with EDE on the retry)', async () => {
    server.setBehaviour((q) => (q.transport === 'udp' ? { kind: 'truncated' } : { kind: 'servfail', ede: [{ infoCode: 10, text: 'no RRSIG' }] }));
    const r = failure(await createStubResolver({ servers: [{ address: server.address, port: server.port }], attempts: 1 }).query(OWNER, 'SRV'));
    assert.equal(r.reason, 'bogus');
    assert.match(r.detail, /EDE 10 \(RRSIGs Missing\): no RRSIG$/);
  });

  it('of two servers, the bogus verdict is the failure reported (it says more than a plain SERVFAIL)', async () => {
    other.setBehaviour(() => ({ kind: 'servfail' }));
    for (const bogusFirst of [true, false]) {
      server.setBehaviour(() => ({ kind: 'servfail', ede: [{ infoCode: 6 }] }));
      const servers = [{ address: server.address, port: server.port }, { address: other.address, port: other.port }];
      const r = failure(await createStubResolver({ servers: bogusFirst ? servers : servers.reverse(), attempts: 1 }).query(OWNER, 'SRV'));
      assert.equal(r.reason, 'bogus', `bogus server ${bogusFirst ? 'first' : 'second'}`);
    }
  });
});
