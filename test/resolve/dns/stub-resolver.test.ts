import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createStubResolver, type DnsQueryResult, type StubResolverOptions } from '../../../src/resolve/dns/index.ts';
import { startDnsServer, type DnsTestServer, type FixtureZone } from '../../helpers/dns-server.ts';

const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const OWNER = '_onion-mx._tcp.example.org';
const zone: FixtureZone = {
  origin: 'example.org',
  soa: { ttl: 3600, minimum: 600 },
  records: [
    { name: OWNER, type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: ONION } },
    { name: '_onion-mx._tcp.big.example.org', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: ONION } },
    ...Array.from({ length: 40 }, (_, i) => ({
      name: '_onion-mx._tcp.big.example.org', type: 'SRV' as const, ttl: 300, data: { priority: 1, weight: i, port: 25, target: ONION },
    })),
  ],
};

function ok(r: DnsQueryResult): Extract<DnsQueryResult, { ok: true }> {
  assert.equal(r.ok, true, r.ok ? '' : `${r.reason}: ${r.detail}`);
  return r;
}

describe('stub resolver against the fixture server', () => {
  let server: DnsTestServer;
  const resolver = (extra: Partial<StubResolverOptions> = {}) =>
    createStubResolver({ servers: [{ address: server.address, port: server.port }], attemptTimeoutMs: 300, ...extra });

  before(async () => { server = await startDnsServer({ zones: [zone] }); });
  after(async () => { await server.close(); });
  beforeEach(() => {
    server.setBehaviour(() => ({ kind: 'zone' }));
    server.queries.length = 0;
    server.counts.udp = 0;
    server.counts.tcp = 0;
  });

  it('gets an SRV answer over UDP with RD, EDNS0 DO=1 and payload size 1232', async () => {
    const r = ok(await resolver().query(OWNER, 'SRV'));
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.transport, 'udp');
    assert.equal(r.answers.length, 1);
    const q = server.queries[0]!;
    assert.equal(q.packet.flag_rd, true);
    assert.equal(q.packet.flag_cd, false);
    const opt = q.packet.additionals?.find((a) => a.type === 'OPT');
    assert.ok(opt && 'udpPayloadSize' in opt);
    assert.equal(opt.udpPayloadSize, 1232);
    assert.equal(opt.flag_do, true);
  });

  it('sends the name with a 0x20 case pattern and a random ID, fresh each query', async () => {
    const r = resolver();
    for (let i = 0; i < 200; i++) ok(await r.query(OWNER, 'SRV'));
    const ids = new Set(server.queries.map((q) => q.id));
    const names = new Set(server.queries.map((q) => q.name));
    assert.ok(ids.size >= 190, `only ${ids.size} distinct IDs in 200 queries`);
    assert.ok(names.size >= 190, `only ${names.size} distinct case patterns in 200 queries`);
    for (const n of names) assert.equal(n.toLowerCase(), OWNER);
    const sequential = server.queries.slice(1).filter((q, i) => q.id === (server.queries[i]!.id + 1) % 65536).length;
    assert.ok(sequential < 5);
  });

  it('reports NXDOMAIN and NODATA with the SOA in the authority section', async () => {
    const nx = ok(await resolver().query('_onion-mx._tcp.nothing.example.org', 'SRV'));
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.equal(nx.authorities[0]?.type, 'SOA');
    const nodata = ok(await resolver().query('example.org', 'SRV'));
    assert.equal(nodata.rcode, 'NOERROR');
    assert.equal(nodata.answers.length, 0);
  });

  it('retries over TCP when the UDP reply is truncated', async () => {
    server.setBehaviour(() => ({ kind: 'truncated' }));
    const r = ok(await resolver().query(OWNER, 'SRV'));
    assert.equal(r.transport, 'tcp');
    assert.equal(r.answers.length, 1);
    assert.deepEqual(server.counts, { udp: 1, tcp: 1 });
  });

  it('gets a large RRset over TCP when it exceeds the advertised UDP size', async () => {
    const r = ok(await resolver({ udpPayloadSize: 512 }).query('_onion-mx._tcp.big.example.org', 'SRV'));
    assert.equal(r.transport, 'tcp');
    assert.equal(r.answers.length, 41);
  });

  it('maps SERVFAIL and REFUSED to failures, not to "no record"', async () => {
    server.setBehaviour(() => ({ kind: 'servfail' }));
    const sf = await resolver({ attempts: 1 }).query(OWNER, 'SRV');
    assert.deepEqual(sf.ok ? undefined : sf.reason, 'servfail');
    server.setBehaviour(() => ({ kind: 'refused' }));
    const rf = await resolver({ attempts: 1 }).query(OWNER, 'SRV');
    assert.deepEqual(rf.ok ? undefined : rf.reason, 'refused');
  });

  it('ignores a spoofed ID and a wrong-source reply and takes the real answer', async () => {
    server.setBehaviour(() => [
      { kind: 'zone', idOffset: 1 },
      { kind: 'zone', fromOtherSocket: true },
      { kind: 'zone', question: { name: '_onion-mx._tcp.evil.example.org' } },
      { kind: 'garbage' },
      { kind: 'zone' },
    ]);
    const r = resolver();
    ok(await r.query(OWNER, 'SRV'));
    assert.equal(r.stats.ignoredWrongId, 1);
    assert.equal(r.stats.ignoredWrongSource, 1);
    assert.equal(r.stats.ignoredWrongQuestion, 1);
    assert.equal(r.stats.ignoredUndecodable, 1);
  });

  it('times out (not accepts) when only spoofed replies arrive', async () => {
    server.setBehaviour(() => [{ kind: 'zone', idOffset: 7 }, { kind: 'zone', fromOtherSocket: true }]);
    const r = await resolver({ attempts: 1, attemptTimeoutMs: 100 }).query(OWNER, 'SRV');
    assert.equal(r.ok ? undefined : r.reason, 'timeout');
  });

  it('reports malformed-reply when only garbage came from the server', async () => {
    server.setBehaviour(() => ({ kind: 'garbage', bytes: Buffer.from([1, 2, 3]) }));
    const r = await resolver({ attempts: 1, attemptTimeoutMs: 100 }).query(OWNER, 'SRV');
    assert.equal(r.ok ? undefined : r.reason, 'malformed-reply');
  });

  it('falls back to case-insensitive matching for a server that never echoes 0x20', async () => {
    server.setBehaviour(() => ({ kind: 'zone', question: 'lower' }));
    const r = resolver();
    ok(await r.query(OWNER, 'SRV'));
    ok(await r.query(OWNER, 'SRV'));
    assert.equal(r.stats.caseFallbacks, 1);
    assert.equal(server.counts.udp, 2, 'no timeouts, no retries');
  });

  it('rejects a wrong-case reply from a server known to echo 0x20, then takes the real one', async () => {
    const r = resolver();
    ok(await r.query(OWNER, 'SRV'));
    server.setBehaviour(() => [{ kind: 'zone', question: 'lower' }, { kind: 'zone' }]);
    ok(await r.query(OWNER, 'SRV'));
    assert.equal(r.stats.ignoredWrongCase, 1);
    assert.equal(r.stats.caseFallbacks, 0);
  });

  it('counts AD only from a trusted server', async () => {
    server.setBehaviour(() => ({ kind: 'zone', ad: true }));
    const trusted = ok(await resolver().query(OWNER, 'SRV'));
    assert.equal(trusted.authenticated, true);
    const untrusted = ok(await createStubResolver({ servers: [{ address: server.address, port: server.port, trustAd: false }] }).query(OWNER, 'SRV'));
    assert.equal(untrusted.authenticated, false);
    assert.equal(untrusted.adBit, true);
    server.setBehaviour(() => ({ kind: 'zone', ad: false }));
    assert.equal(ok(await resolver().query(OWNER, 'SRV')).authenticated, false);
  });

  it('never sends a .onion name', async () => {
    const r = await resolver().query(`_onion-mx._tcp.${ONION}`, 'SRV');
    assert.equal(r.ok ? undefined : r.reason, 'invalid-name');
    assert.equal(server.counts.udp, 0);
  });

  it('moves on to the next server after a silent one, within one deadline', async () => {
    const silent = await startDnsServer({ behaviour: () => ({ kind: 'drop' }) });
    try {
      const r = createStubResolver({
        servers: [{ address: silent.address, port: silent.port }, { address: server.address, port: server.port }],
        attemptTimeoutMs: 100,
      });
      ok(await r.query(OWNER, 'SRV'));
      assert.equal(silent.counts.udp, 1);
      assert.equal(server.counts.udp, 1);
      assert.equal(r.stats.attemptTimeouts, 1);
    } finally {
      await silent.close();
    }
  });

  it('stops at the overall deadline even with servers and rounds left', async () => {
    const a = await startDnsServer({ behaviour: () => ({ kind: 'drop' }) });
    const b = await startDnsServer({ behaviour: () => ({ kind: 'drop' }) });
    try {
      const r = createStubResolver({
        servers: [{ address: a.address, port: a.port }, { address: b.address, port: b.port }, { address: server.address, port: server.port }],
        attemptTimeoutMs: 200,
        deadlineMs: 300,
        attempts: 3,
      });
      const res = await r.query(OWNER, 'SRV');
      assert.equal(res.ok ? undefined : res.reason, 'timeout');
      assert.equal(a.counts.udp, 1);
      assert.equal(b.counts.udp, 1);
      assert.equal(server.counts.udp, 0, 'the third server is never asked after the deadline');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('retries the same server in a second round', async () => {
    let n = 0;
    server.setBehaviour(() => (n++ === 0 ? { kind: 'drop' } : { kind: 'zone' }));
    ok(await resolver({ attemptTimeoutMs: 100, attempts: 2 }).query(OWNER, 'SRV'));
    assert.equal(server.counts.udp, 2);
  });

  it('prefers an informative failure over silence', async () => {
    const silent = await startDnsServer({ behaviour: () => ({ kind: 'drop' }) });
    server.setBehaviour(() => ({ kind: 'servfail' }));
    try {
      const r = await createStubResolver({
        servers: [{ address: server.address, port: server.port }, { address: silent.address, port: silent.port }],
        attemptTimeoutMs: 100, attempts: 1,
      }).query(OWNER, 'SRV');
      assert.equal(r.ok ? undefined : r.reason, 'servfail');
    } finally {
      await silent.close();
    }
  });

  it('honours an AbortSignal', async () => {
    server.setBehaviour(() => ({ kind: 'drop' }));
    const controller = new AbortController();
    const pending = resolver({ attemptTimeoutMs: 10_000 }).query(OWNER, 'SRV', { signal: controller.signal });
    await waitFor(() => server.counts.udp === 1);
    controller.abort(new Error('shutdown'));
    const r = await pending;
    assert.equal(r.ok ? undefined : r.reason, 'aborted');
    assert.equal(server.counts.udp, 1);
  });
});

describe('stub resolver TCP failures', () => {
  it('reports truncated when TCP is unavailable after TC', async () => {
    // A UDP-only server that always truncates; TCP on its port is closed.
    const udp = createSocket('udp4');
    udp.on('message', (m, rinfo) => {
      const reply = Buffer.from(m.subarray(0, 12 + questionLength(m)));
      reply[2] = 0x82 | (reply[2]! & 0x01); // QR, TC, keep RD
      reply[3] = 0x80;
      reply.writeUInt16BE(0, 10); // no additionals echoed
      udp.send(reply, rinfo.port, rinfo.address);
    });
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    try {
      const r = await createStubResolver({ servers: [{ address: '127.0.0.1', port: udp.address().port }], attempts: 1, attemptTimeoutMs: 500 }).query(OWNER, 'SRV');
      assert.equal(r.ok ? undefined : r.reason, 'truncated');
    } finally {
      udp.close();
    }
  });

  it('reports malformed-reply for garbage over TCP', async () => {
    const server = await startDnsServer({ zones: [zone] });
    server.setBehaviour((q) => (q.transport === 'udp' ? { kind: 'truncated' } : { kind: 'garbage', bytes: Buffer.from([0xff]) }));
    try {
      const r = await createStubResolver({ servers: [{ address: server.address, port: server.port }], attempts: 1, attemptTimeoutMs: 500 }).query(OWNER, 'SRV');
      assert.equal(r.ok ? undefined : r.reason, 'malformed-reply');
    } finally {
      await server.close();
    }
  });

  it('reports malformed-reply for a zero-length TCP frame', async () => {
    const tcp = createServer((s) => { s.on('data', () => s.end(Buffer.from([0, 0]))); s.on('error', () => undefined); });
    const udp = createSocket('udp4');
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const port = (tcp.address() as { port: number }).port;
    udp.on('message', (m, rinfo) => {
      const reply = Buffer.from(m.subarray(0, 12 + questionLength(m)));
      reply[2] = 0x82 | (reply[2]! & 0x01);
      reply[3] = 0x80;
      reply.writeUInt16BE(0, 10);
      udp.send(reply, rinfo.port, rinfo.address);
    });
    udp.bind(port, '127.0.0.1');
    await once(udp, 'listening');
    try {
      const r = await createStubResolver({ servers: [{ address: '127.0.0.1', port }], attempts: 1, attemptTimeoutMs: 500 }).query(OWNER, 'SRV');
      assert.equal(r.ok ? undefined : r.reason, 'malformed-reply');
      assert.match(r.ok ? '' : r.detail, /announces 0 bytes/);
    } finally {
      udp.close();
      tcp.close();
    }
  });
});

function questionLength(m: Buffer): number {
  let i = 12;
  while (i < m.length && m[i] !== 0) i += m[i]! + 1;
  return i + 1 + 4 - 12;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(condition(), 'condition not reached');
}
