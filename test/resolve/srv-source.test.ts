import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createStubResolver } from '../../src/resolve/dns/index.ts';
import { createSrvSource } from '../../src/resolve/srv-source.ts';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';
import { seededRandomInt } from '../helpers/dns-random.ts';

const ONIONS = [
  'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion',
  'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion',
  'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion',
];

describe('createSrvSource (SRV + cache, as the resolver facade uses it)', () => {
  let server: DnsTestServer;
  let t = 0;
  const now = (): number => t;
  const source = (serveStaleMs = 0) => createSrvSource({
    resolver: createStubResolver({ servers: [{ address: server.address, port: server.port }], attemptTimeoutMs: 300, attempts: 1 }),
    randomInt: seededRandomInt(5),
    cache: { now, serveStaleMs },
  });

  before(async () => {
    server = await startDnsServer({
      zones: [{
        origin: 'example.org',
        soa: { ttl: 600, minimum: 600 },
        records: ONIONS.map((target) => ({ name: '_onion-mx._tcp.example.org', type: 'SRV' as const, ttl: 300, data: { priority: 0, weight: 10, port: 25, target } })),
      }],
    });
  });
  after(async () => { await server.close(); });
  beforeEach(() => {
    t = 1_000_000;
    server.setBehaviour(() => ({ kind: 'zone', ad: true }));
    server.counts.udp = 0;
  });

  it('100 concurrent lookups of one domain send one DNS query and all get the same ordered onions', async () => {
    const src = source();
    const results = await Promise.all(Array.from({ length: 100 }, () => src.lookup('example.org')));
    assert.equal(server.counts.udp, 1);
    const orders = new Set(results.map((r) => (r.kind === 'targets' ? r.targets.map((x) => x.onion).join() : r.kind)));
    assert.equal(orders.size, 1);
    assert.equal(results[0]?.kind, 'targets');
  });

  it('answers from the cache without I/O, with the TTL left, until expiry', async () => {
    const src = source();
    assert.equal(src.cached('example.org'), undefined);
    const first = await src.lookup('example.org');
    t += 100_000;
    const hit = src.cached('example.org');
    assert.equal(hit?.kind, 'targets');
    assert.equal(hit.ttlMs, 200_000);
    assert.deepEqual(hit.kind === 'targets' && hit.targets, first.kind === 'targets' && first.targets);
    t += 200_000;
    assert.equal(src.cached('example.org'), undefined);
    await src.lookup('example.org');
    assert.equal(server.counts.udp, 2);
  });

  it('caches negative answers per RFC 2308 and failures for the failure TTL', async () => {
    const src = source();
    const nx = await src.lookup('absent.example.org');
    assert.deepEqual([nx.kind, nx.ttlMs], ['nxdomain', 600_000]);
    server.setBehaviour(() => ({ kind: 'servfail' }));
    const sf = await src.lookup('broken.example.org');
    assert.deepEqual([sf.kind, sf.ttlMs], ['failure', 30_000]);
    await src.lookup('broken.example.org');
    assert.equal(server.counts.udp, 2);
  });

  it('serves a stale route, marked stale, when DNS fails after expiry', async () => {
    const src = source(3_600_000);
    await src.lookup('example.org');
    t += 300_000;
    server.setBehaviour(() => ({ kind: 'servfail' }));
    const r = await src.lookup('example.org');
    assert.equal(r.kind, 'targets');
    assert.equal(r.kind === 'targets' && r.stale, true);
    assert.equal(r.ttlMs, 30_000);
  });

  it('an aborted caller gets a failure; the shared query still answers the others', async () => {
    const src = source();
    server.setBehaviour(() => ({ kind: 'drop' }));
    const controller = new AbortController();
    const aborted = src.lookup('slow.example.org', controller.signal);
    const patient = src.lookup('slow.example.org');
    controller.abort(new Error('client went away'));
    const a = await aborted;
    assert.equal(a.kind, 'failure');
    assert.match(a.kind === 'failure' ? a.detail : '', /client went away/);
    const p = await patient;
    assert.equal(p.kind === 'failure' && p.reason, 'timeout');
    assert.equal(server.counts.udp, 1);
  });
});
