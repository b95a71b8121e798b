import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { orderSrvRecords, type SrvRecord } from '../../src/resolve/srv-select.ts';
import { seededRandomInt } from '../helpers/dns-random.ts';

const rec = (target: string, priority: number, weight: number): SrvRecord => ({ target, priority, weight, port: 25 });

describe('orderSrvRecords (RFC 2782)', () => {
  it('orders by ascending priority first', () => {
    const order = orderSrvRecords([rec('c', 20, 5), rec('a', 0, 5), rec('b', 10, 5)], seededRandomInt(1));
    assert.deepEqual(order.map((r) => r.target), ['a', 'b', 'c']);
  });

  it('returns every record exactly once and leaves the input alone', () => {
    const input = [rec('a', 0, 0), rec('b', 0, 10), rec('c', 0, 0), rec('d', 1, 3), rec('e', 1, 0)];
    const copy = [...input];
    const rnd = seededRandomInt(7);
    for (let i = 0; i < 200; i++) {
      const order = orderSrvRecords(input, rnd);
      assert.deepEqual([...order.map((r) => r.target)].sort(), ['a', 'b', 'c', 'd', 'e']);
      assert.deepEqual(order.slice(3).map((r) => r.priority), [1, 1]);
    }
    assert.deepEqual(input, copy);
  });

  it('picks first within a priority in proportion to weight, weight 0 at 1/(sum+1) (10000 draws)', () => {
    const records = [rec('sixty', 0, 60), rec('forty', 0, 40), rec('zero', 0, 0), rec('backup', 1, 100)];
    const rnd = seededRandomInt(20240601);
    const firsts = new Map<string, number>();
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const order = orderSrvRecords(records, rnd);
      const first = order[0]!.target;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
      assert.equal(order[3]!.target, 'backup');
    }
    const share = (t: string): number => (firsts.get(t) ?? 0) / n;
    // Expected 60/101, 40/101, 1/101; a tolerance of ~4 standard deviations.
    assert.ok(Math.abs(share('sixty') - 60 / 101) < 0.02, `sixty ${share('sixty')}`);
    assert.ok(Math.abs(share('forty') - 40 / 101) < 0.02, `forty ${share('forty')}`);
    assert.ok(Math.abs(share('zero') - 1 / 101) < 0.005, `zero ${share('zero')}`);
  });

  it('spreads all-zero weights evenly (RFC 2782 leaves their order open; we shuffle)', () => {
    const rnd = seededRandomInt(3);
    const counts = new Map<string, number>();
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const first = orderSrvRecords([rec('a', 0, 0), rec('b', 0, 0), rec('c', 0, 0)], rnd)[0]!.target;
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    for (const t of ['a', 'b', 'c']) assert.ok(Math.abs((counts.get(t) ?? 0) / n - 1 / 3) < 0.04, `${t}: ${counts.get(t)}`);
  });

  it('uses the real random source by default', () => {
    const order = orderSrvRecords([rec('a', 0, 1), rec('b', 0, 1)]);
    assert.equal(order.length, 2);
  });
});
