import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TtlCache, MAX_FAILURE_TTL_MS, type Loaded } from '../../src/resolve/cache.ts';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

const positive = (value: string, ttlMs = 60_000): Loaded<string> => ({ value, kind: 'positive', ttlMs });
const negative = (value: string, ttlMs = 60_000): Loaded<string> => ({ value, kind: 'negative', ttlMs });
const failure = (value = 'servfail'): Loaded<string> => ({ value, kind: 'failure', ttlMs: 0 });

/** A loader that answers from a script and counts calls. */
function script(...answers: Loaded<string>[]): { load: (k: string) => Promise<Loaded<string>>; calls: () => number } {
  let n = 0;
  return {
    load: () => Promise.resolve(answers[Math.min(n++, answers.length - 1)]!),
    calls: () => n,
  };
}

describe('TtlCache', () => {
  it('serves a positive value until its TTL, then reloads', async () => {
    const c = clock();
    const cache = new TtlCache<string>({ now: c.now });
    const s = script(positive('a', 10_000), positive('b', 10_000));
    assert.equal((await cache.lookup('x.org', s.load)).value, 'a');
    c.advance(9_999);
    assert.equal(cache.get('x.org')?.value, 'a');
    assert.equal((await cache.lookup('x.org', s.load)).value, 'a');
    c.advance(1);
    assert.equal(cache.get('x.org'), undefined);
    assert.equal((await cache.lookup('x.org', s.load)).value, 'b');
    assert.equal(s.calls(), 2);
  });

  it('caches negative answers for their own TTL', async () => {
    const c = clock();
    const cache = new TtlCache<string>({ now: c.now });
    await cache.lookup('x.org', script(negative('nx', 900_000)).load);
    c.advance(899_999);
    assert.equal(cache.get('x.org')?.kind, 'negative');
    c.advance(1);
    assert.equal(cache.get('x.org'), undefined);
  });

  it('caps every TTL at maxTtlMs (default one day)', async () => {
    const c = clock();
    const cache = new TtlCache<string>({ now: c.now });
    const hit = await cache.lookup('x.org', script(positive('a', 30 * 86_400_000)).load);
    assert.equal(hit.expiresAt - c.now(), 86_400_000);
    const short = new TtlCache<string>({ now: c.now, maxTtlMs: 5_000 });
    assert.equal((await short.lookup('x.org', script(positive('a', 60_000)).load)).expiresAt - c.now(), 5_000);
  });

  it('caches failures for failureTtlMs (default 30 s), never longer than 5 min', async () => {
    const c = clock();
    const cache = new TtlCache<string>({ now: c.now });
    const s = script(failure(), positive('ok'));
    assert.equal((await cache.lookup('x.org', s.load)).kind, 'failure');
    c.advance(29_999);
    assert.equal(cache.get('x.org')?.kind, 'failure');
    c.advance(1);
    assert.equal((await cache.lookup('x.org', s.load)).value, 'ok');
    const capped = new TtlCache<string>({ now: c.now, failureTtlMs: 3_600_000 });
    assert.equal((await capped.lookup('y.org', script(failure()).load)).expiresAt - c.now(), MAX_FAILURE_TTL_MS);
  });

  it('does not store TTL-0 answers', async () => {
    const cache = new TtlCache<string>({ now: clock().now });
    const s = script(positive('a', 0));
    await cache.lookup('x.org', s.load);
    await cache.lookup('x.org', s.load);
    assert.equal(s.calls(), 2);
    assert.equal(cache.size, 0);
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const cache = new TtlCache<string>({ now: clock().now, maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) await cache.lookup(k, script(positive(k)).load);
    assert.ok(cache.get('a')); // a is now the most recent; b the least
    await cache.lookup('d', script(positive('d')).load);
    assert.equal(cache.size, 3);
    assert.equal(cache.get('b'), undefined);
    for (const k of ['a', 'c', 'd']) assert.equal(cache.get(k)?.value, k);
  });

  it('shares one load among 100 concurrent lookups (single flight)', async () => {
    const cache = new TtlCache<string>({ now: clock().now });
    let calls = 0;
    let release: (v: Loaded<string>) => void = () => undefined;
    const load = (): Promise<Loaded<string>> => {
      calls++;
      return new Promise((r) => { release = r; });
    };
    const waiters = Array.from({ length: 100 }, () => cache.lookup('x.org', load));
    assert.equal(cache.inflight, 1);
    release(positive('shared'));
    const hits = await Promise.all(waiters);
    assert.equal(calls, 1);
    assert.ok(hits.every((h) => h.value === 'shared'));
    assert.equal(cache.inflight, 0);
  });

  it('propagates a rejected load to every waiter and caches nothing', async () => {
    const cache = new TtlCache<string>({ now: clock().now });
    const load = (): Promise<Loaded<string>> => Promise.reject(new Error('boom'));
    const results = await Promise.allSettled([cache.lookup('x.org', load), cache.lookup('x.org', load)]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(cache.size, 0);
    assert.equal(cache.inflight, 0);
  });

  describe('serve-stale', () => {
    it('serves the expired positive value, marked stale, when the refresh fails, and retries after the failure TTL', async () => {
      const c = clock();
      const cache = new TtlCache<string>({ now: c.now, serveStaleMs: 3_600_000, failureTtlMs: 30_000 });
      const s = script(positive('onion', 60_000), failure(), failure(), positive('fresh'));
      await cache.lookup('x.org', s.load);
      c.advance(60_000);
      const stale = await cache.lookup('x.org', s.load);
      assert.deepEqual([stale.value, stale.isStale, stale.kind], ['onion', true, 'positive']);
      assert.equal(stale.expiresAt - c.now(), 30_000);
      c.advance(29_999);
      assert.equal(cache.get('x.org')?.isStale, true, 'no new query while the retry timer runs');
      assert.equal(s.calls(), 2);
      c.advance(1);
      assert.equal((await cache.lookup('x.org', s.load)).isStale, true);
      c.advance(30_000);
      const fresh = await cache.lookup('x.org', s.load);
      assert.deepEqual([fresh.value, fresh.isStale], ['fresh', false]);
    });

    it('stops serving stale after serveStaleMs and returns the failure', async () => {
      const c = clock();
      const cache = new TtlCache<string>({ now: c.now, serveStaleMs: 100_000, failureTtlMs: 30_000 });
      const s = script(positive('onion', 60_000), failure('down'));
      await cache.lookup('x.org', s.load);
      c.advance(60_000 + 100_000);
      const r = await cache.lookup('x.org', s.load);
      assert.deepEqual([r.value, r.kind, r.isStale], ['down', 'failure', false]);
    });

    it('is off by default, and never applies to negative answers', async () => {
      const c = clock();
      const off = new TtlCache<string>({ now: c.now });
      await off.lookup('x.org', script(positive('onion', 1_000)).load);
      c.advance(1_000);
      assert.equal((await off.lookup('x.org', script(failure()).load)).kind, 'failure');
      const on = new TtlCache<string>({ now: c.now, serveStaleMs: 3_600_000 });
      await on.lookup('y.org', script(negative('nx', 1_000)).load);
      c.advance(1_000);
      assert.equal((await on.lookup('y.org', script(failure()).load)).kind, 'failure');
    });

    it('a fresh negative answer replaces a stale positive one', async () => {
      const c = clock();
      const cache = new TtlCache<string>({ now: c.now, serveStaleMs: 3_600_000 });
      const s = script(positive('onion', 1_000), negative('gone', 0), failure());
      await cache.lookup('x.org', s.load);
      c.advance(1_000);
      assert.equal((await cache.lookup('x.org', s.load)).value, 'gone');
      assert.equal((await cache.lookup('x.org', s.load)).kind, 'failure');
    });
  });
});
