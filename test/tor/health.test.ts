import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HealthChecker, withHealthPolicy, type HealthCheckerOptions } from '../../src/tor/health.ts';
import { probeOnion, type ProbeResult } from '../../src/tor/probe.ts';
import { silentLogger } from '../../src/log.ts';
import type { Decision } from '../../src/resolve/types.ts';
import { startFakeTor } from '../helpers/fake-tor.ts';
import { startSink } from '../helpers/smtp-sink.ts';

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const B = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';

const ok = (onion: string, port: number): ProbeResult => ({ ok: true, onion, port, connectMs: 1, greeting: 'x', ehloCode: 250, capabilities: [] });
const fail = (onion: string, port: number, code = 'F2'): ProbeResult => ({ ok: false, onion, port, stage: 'connect', code, kind: 'socks-reply', rep: 0xf2, permanent: false, message: 'intro failed', connectMs: undefined });

function setup(overrides: Partial<HealthCheckerOptions> = {}, answer: (onion: string) => boolean = () => true) {
  let now = 1_000_000;
  const probed: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const health = new HealthChecker({
    intervalMs: 60_000,
    failuresBeforeUnreachable: 2,
    concurrency: 2,
    forgetAfterMs: 3_600_000,
    log: silentLogger(),
    now: () => now,
    probe: async ({ onion, port }) => {
      probed.push(onion);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return answer(onion) ? ok(onion, port) : fail(onion, port);
    },
    ...overrides,
  });
  return { health, probed, advance: (ms: number) => (now += ms), maxInFlight: () => maxInFlight };
}

describe('health checker', () => {
  it('noting a route does no I/O; the next tick probes it; never twice within the interval', async () => {
    const t = setup();
    t.health.noteRouteUsed(A, 25);
    assert.deepEqual(t.probed, []);
    await t.health.tick();
    assert.deepEqual(t.probed, [A]);
    t.health.noteRouteUsed(A, 25);
    await t.health.tick();
    t.advance(59_999);
    await t.health.tick();
    assert.deepEqual(t.probed, [A]);
    t.advance(1);
    await t.health.tick();
    assert.deepEqual(t.probed, [A, A]);
    assert.equal(t.health.state(A)?.reachable, true);
  });

  it('bounds concurrency and joins a tick already running', async () => {
    const t = setup();
    const onions = [A, B, ...'cdefg'.split('').map((c) => c.repeat(56) + '.onion')];
    for (const o of onions) t.health.noteRouteUsed(o, 25);
    await Promise.all([t.health.tick(), t.health.tick()]);
    assert.equal(t.probed.length, onions.length);
    assert.equal(t.maxInFlight(), 2);
  });

  it('unreachable after N failures in a row, reachable again after one success; state keeps the code', async () => {
    let up = false;
    const t = setup({}, () => up);
    t.health.noteRouteUsed(A, 25);
    await t.health.tick();
    assert.equal(t.health.isUnreachable(A), false, 'one failure is not enough');
    t.advance(60_000);
    await t.health.tick();
    assert.equal(t.health.isUnreachable(A), true);
    assert.equal(t.health.state(A)?.lastErrorCode, 'F2');
    up = true;
    t.advance(60_000);
    await t.health.tick();
    assert.equal(t.health.isUnreachable(A), false);
  });

  it('forgets onions no route used within forget_after', async () => {
    const t = setup();
    t.health.noteRouteUsed(A, 25);
    t.advance(3_600_001);
    await t.health.tick();
    assert.deepEqual(t.probed, []);
    assert.equal(t.health.state(A), undefined);
  });

  it('probes through the Tor stand-in and records Tor\'s code', async () => {
    const sink = await startSink();
    const tor = await startFakeTor({ routes: { [`${A}:25`]: { host: '127.0.0.1', port: sink.port } }, replies: { [B]: { kind: 'fail', rep: 0xf7 } } });
    try {
      const health = new HealthChecker({
        intervalMs: 1000, failuresBeforeUnreachable: 1, concurrency: 2, forgetAfterMs: 3_600_000, log: silentLogger(),
        probe: (target, signal) => probeOnion({ proxy: { kind: 'tcp', host: '127.0.0.1', port: tor.port }, ...target, signal }),
      });
      health.noteRouteUsed(A, 25);
      health.noteRouteUsed(B, 25);
      await health.tick();
      await health.close();
      assert.equal(health.state(A)?.reachable, true);
      assert.equal(health.isUnreachable(B), true);
      assert.equal(health.state(B)?.lastErrorCode, 'F7');
    } finally {
      await tor.close();
      await sink.close();
    }
  });
});

describe('on_unreachable policy', () => {
  const route: Decision = { kind: 'route', domain: 'a.example', onion: A, port: 25, source: 'static', dnssec: false, ttl: 300, hops: [{ onion: A, port: 25 }], origin: 'pins.yml:1' };
  const resolver = { resolve: () => Promise.resolve(route) };

  it('route keeps routing; defer tempfails; clearnet answers none — only for an unreachable onion', async () => {
    const t = setup({ failuresBeforeUnreachable: 1 }, () => false);
    const policies = { route: withHealthPolicy(resolver, t.health, 'route', silentLogger()), defer: withHealthPolicy(resolver, t.health, 'defer', silentLogger()), clearnet: withHealthPolicy(resolver, t.health, 'clearnet', silentLogger()) };
    assert.equal((await policies.defer.resolve('x@a.example')).kind, 'route', 'unknown health: route');
    assert.deepEqual(t.probed, [], 'resolving never probes');
    await t.health.tick();
    assert.equal((await policies.route.resolve('x@a.example')).kind, 'route');
    const deferred = await policies.defer.resolve('x@a.example');
    assert.ok(deferred.kind === 'tempfail' && deferred.reason === 'onion-unreachable' && /F2/.test(deferred.detail ?? ''));
    const downgraded = await policies.clearnet.resolve('x@a.example');
    assert.ok(downgraded.kind === 'none' && downgraded.reason === 'onion-unreachable');
  });

  it('the synchronous peek path gets the same policy', async () => {
    const t = setup({ failuresBeforeUnreachable: 1 }, () => false);
    const peeking = { resolve: () => Promise.resolve(route), peek: (): Decision => route };
    const defer = withHealthPolicy(peeking, t.health, 'defer', silentLogger());
    assert.equal(defer.peek?.('x@a.example')?.kind, 'route');
    await t.health.tick();
    const d = defer.peek?.('x@a.example');
    assert.ok(d?.kind === 'tempfail' && d.reason === 'onion-unreachable');
    assert.ok(!('peek' in withHealthPolicy(resolver, t.health, 'defer', silentLogger())), 'no peek to pass on');
  });
});
