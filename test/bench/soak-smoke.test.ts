// `npm run soak` in miniature against a real `serve`: a burst of concurrent milter sessions and
// lookup connections and a short steady phase with reconnecting connections. Every transaction
// and lookup must be answered exactly right, the daemon must still run, and once the load is gone
// it must hold no more descriptors than before it. No timing is asserted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSoak } from './soak-run.ts';

describe('soak smoke', () => {
  it('answers a burst and a reconnecting steady load without errors or leaked descriptors', async () => {
    const r = await runSoak({
      sessions: 40,
      lookups: 40,
      transactionsEach: 3,
      hundredTransactionsEach: 3,
      lookupsEach: 10,
      steady: { durationMs: 2000, warmupMs: 0, sampleEveryMs: 500, sessions: 10, lookupConnections: 4, transactionRate: 50, lookupRate: 100, reconnectEvery: 5 },
    });
    assert.deepEqual(r.errors.first, []);
    assert.equal(r.errors.count, 0);
    assert.equal(r.full.transactions, 40 * 3);
    assert.equal(r.full.lookups, 40 * 10);
    assert.ok(r.steady.transactions > 0, `the steady phase ran transactions (${r.steady.transactions})`);
    assert.ok(r.steady.lookups > 0, `the steady phase ran lookups (${r.steady.lookups})`);
    assert.ok(r.fdLeak <= 0, `descriptors after the load: ${r.fdLeak} more than before`);
    assert.equal(r.daemonCrashed, false);
    assert.equal(r.dnsQueries, 0);
  });
});
