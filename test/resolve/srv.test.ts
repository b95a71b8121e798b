import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer } from 'dns-packet';
import { createStubResolver, type DnsQueryResult, type StubResolver } from '../../src/resolve/dns/index.ts';
import { lookupOnionSrv, negativeTtlSeconds, type OnionSrvResult } from '../../src/resolve/srv.ts';
import { startDnsServer, type DnsTestServer, type FixtureRecord } from '../helpers/dns-server.ts';
import { seededRandomInt } from '../helpers/dns-random.ts';

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const B = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';
const C = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';
const V2 = 'wy6zk3pmcwiyhiao.onion';
const BAD_CHECKSUM = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscrad.onion';

const srv = (domain: string, target: string, priority = 0, weight = 5, port = 25, ttl = 300): FixtureRecord =>
  ({ name: `_onion-mx._tcp.${domain}`, type: 'SRV', ttl, data: { priority, weight, port, target } });

type Narrow<K> = Extract<OnionSrvResult, { kind: K }> extends never ? OnionSrvResult & { kind: K; ttlMs: number } : Extract<OnionSrvResult, { kind: K }>;

function expectKind<K extends OnionSrvResult['kind']>(r: OnionSrvResult, kind: K): Narrow<K> {
  assert.equal(r.kind, kind, JSON.stringify(r));
  return r as Narrow<K>;
}

describe('lookupOnionSrv against the fixture server', () => {
  let server: DnsTestServer;
  let resolver: StubResolver;
  before(async () => {
    server = await startDnsServer({
      zones: [{
        origin: 'example.org',
        soa: { ttl: 3600, minimum: 900 },
        records: [
          srv('one.example.org', A, 0, 5, 25, 120),
          srv('ordered.example.org', C, 20), srv('ordered.example.org', B, 10), srv('ordered.example.org', A, 10, 0, 2525, 60),
          srv('nullsrv.example.org', '.', 0, 0, 0),
          srv('clear.example.org', 'mx.example.org'), srv('clear.example.org', V2), srv('clear.example.org', BAD_CHECKSUM),
          srv('mixed.example.org', 'mx.example.org'), srv('mixed.example.org', '.', 0, 0, 0), srv('mixed.example.org', B, 5),
          srv('port0.example.org', A, 0, 0, 0),
          { name: '_onion-mx._tcp.nosrv.example.org', type: 'TXT', ttl: 60, data: 'hello' },
        ],
      }, { origin: 'nosoa.example', records: [] }],
    });
    resolver = createStubResolver({ servers: [{ address: server.address, port: server.port }], attemptTimeoutMs: 300, attempts: 1 });
  });
  after(async () => { await server.close(); });
  beforeEach(() => { server.setBehaviour(() => ({ kind: 'zone' })); });

  it('answers one onion target with its port and the RRset TTL', async () => {
    server.setBehaviour(() => ({ kind: 'zone', ad: true }));
    const r = expectKind(await lookupOnionSrv('one.example.org', { resolver }), 'targets');
    assert.deepEqual(r.targets, [{ onion: A, port: 25 }]);
    assert.equal(r.ttlMs, 120_000);
    assert.equal(r.authenticated, true);
    assert.equal(r.origin, '_onion-mx._tcp.one.example.org');
  });

  it('is unauthenticated without the AD bit', async () => {
    const r = expectKind(await lookupOnionSrv('one.example.org', { resolver }), 'targets');
    assert.equal(r.authenticated, false);
  });

  it('orders by priority, keeps ports, and takes the min TTL of the RRset', async () => {
    const r = expectKind(await lookupOnionSrv('ordered.example.org', { resolver, randomInt: seededRandomInt(1) }), 'targets');
    assert.deepEqual(r.targets.slice(2), [{ onion: C, port: 25 }]);
    assert.deepEqual(new Set(r.targets.slice(0, 2).map((t) => t.port)), new Set([25, 2525]));
    assert.equal(r.ttlMs, 60_000);
  });

  it('reads a lone "." target as "no service"', async () => {
    expectKind(await lookupOnionSrv('nullsrv.example.org', { resolver }), 'no-service');
  });

  it('drops clearnet, v2 and bad-checksum targets, with reasons', async () => {
    const r = expectKind(await lookupOnionSrv('clear.example.org', { resolver }), 'no-onion-target');
    assert.equal(r.rejected.length, 3);
    assert.match(r.detail, /wy6zk3pmcwiyhiao\.onion: .*v2/);
  });

  it('uses the valid targets among invalid ones and a "." mixed in', async () => {
    const r = expectKind(await lookupOnionSrv('mixed.example.org', { resolver }), 'targets');
    assert.deepEqual(r.targets, [{ onion: B, port: 25 }]);
    assert.deepEqual(r.rejected.map((x) => x.target).sort(), ['.', 'mx.example.org']);
  });

  it('refuses port 0', async () => {
    const r = expectKind(await lookupOnionSrv('port0.example.org', { resolver }), 'no-onion-target');
    assert.match(r.detail, /port 0/);
  });

  it('NXDOMAIN and NODATA carry the RFC 2308 negative TTL min(SOA TTL, MINIMUM)', async () => {
    assert.equal(expectKind(await lookupOnionSrv('absent.example.org', { resolver }), 'nxdomain').ttlMs, 900_000);
    assert.equal(expectKind(await lookupOnionSrv('nosrv.example.org', { resolver }), 'nodata').ttlMs, 900_000);
  });

  it('uses 300 s for a negative answer without SOA', async () => {
    assert.equal(expectKind(await lookupOnionSrv('absent.nosoa.example', { resolver }), 'nxdomain').ttlMs, 300_000);
  });

  it('turns SERVFAIL, REFUSED and silence into failures, never into "no record"', async () => {
    for (const [kind, reason] of [['servfail', 'servfail'], ['refused', 'refused'], ['drop', 'timeout']] as const) {
      server.setBehaviour(() => ({ kind }));
      const r = expectKind(await lookupOnionSrv('one.example.org', { resolver }), 'failure');
      assert.equal(r.reason, reason);
    }
  });

  it('follows a CNAME chain present in the answer, with the chain TTL', async () => {
    server.setBehaviour(() => ({
      kind: 'zone',
      answers: [
        { name: '_onion-mx._tcp.alias.example.org', type: 'CNAME', ttl: 30, data: '_onion-mx._tcp.one.example.org' },
        srv('one.example.org', A, 0, 5, 25, 120),
        srv('unrelated.example.org', B),
      ],
    }));
    const r = expectKind(await lookupOnionSrv('alias.example.org', { resolver }), 'targets');
    assert.deepEqual(r.targets, [{ onion: A, port: 25 }]);
    assert.equal(r.ttlMs, 30_000);
  });

  it('does not chase a CNAME the resolver did not resolve (NODATA)', async () => {
    server.setBehaviour(() => ({ kind: 'zone', answers: [{ name: '_onion-mx._tcp.alias.example.org', type: 'CNAME', ttl: 30, data: 'elsewhere.example.net' }] }));
    expectKind(await lookupOnionSrv('alias.example.org', { resolver }), 'nodata');
    assert.equal(server.queries.filter((q) => q.name.toLowerCase().includes('elsewhere')).length, 0);
  });

  it('reports a CNAME loop as malformed', async () => {
    server.setBehaviour(() => ({
      kind: 'zone',
      answers: [
        { name: '_onion-mx._tcp.loop.example.org', type: 'CNAME', ttl: 30, data: 'b.example.org' },
        { name: 'b.example.org', type: 'CNAME', ttl: 30, data: '_onion-mx._tcp.loop.example.org' },
      ],
    }));
    assert.equal(expectKind(await lookupOnionSrv('loop.example.org', { resolver }), 'failure').reason, 'malformed-reply');
  });

  it('uses an injected target validator', async () => {
    const r = await lookupOnionSrv('one.example.org', { resolver, validateTarget: () => ({ ok: false, reason: 'not pinned' }) });
    assert.match(expectKind(r, 'no-onion-target').detail, /not pinned/);
  });
});

describe('lookupOnionSrv with a scripted resolver', () => {
  const scripted = (result: DnsQueryResult): Pick<StubResolver, 'query'> => ({ query: () => Promise.resolve(result) });
  const reply = (answers: Answer[]): DnsQueryResult => ({ ok: true, rcode: 'NOERROR', authenticated: true, adBit: true, answers, authorities: [], server: 'x', transport: 'udp' });

  it('maps an aborted query to a timeout failure and an invalid name to refused', async () => {
    assert.equal(expectKind(await lookupOnionSrv('x.org', { resolver: scripted({ ok: false, reason: 'aborted', detail: 'a' }) }), 'failure').reason, 'timeout');
    assert.equal(expectKind(await lookupOnionSrv('x.org', { resolver: scripted({ ok: false, reason: 'invalid-name', detail: 'a' }) }), 'failure').reason, 'refused');
  });

  it('deduplicates identical targets', async () => {
    const rr = { name: '_onion-mx._tcp.x.org', type: 'SRV' as const, ttl: 10, data: { priority: 0, weight: 1, port: 25, target: A } };
    const r = expectKind(await lookupOnionSrv('x.org', { resolver: scripted(reply([rr, { ...rr, data: { ...rr.data, target: A.toUpperCase() } }])) }), 'targets');
    assert.deepEqual(r.targets, [{ onion: A, port: 25 }]);
  });

  it('negativeTtlSeconds takes min(SOA TTL, MINIMUM)', () => {
    const soa = (ttl: number, minimum: number): Answer => ({ type: 'SOA', name: 'x.org', ttl, data: { mname: 'a', rname: 'b', minimum } });
    assert.equal(negativeTtlSeconds([soa(3600, 60)]), 60);
    assert.equal(negativeTtlSeconds([soa(30, 86400)]), 30);
    assert.equal(negativeTtlSeconds([]), 300);
  });
});
