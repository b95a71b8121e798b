import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { checkQueryName, randomizeCase, sameName } from '../../../src/resolve/dns/names.ts';

describe('checkQueryName', () => {
  it('accepts a service name and drops one trailing dot', () => {
    assert.deepEqual(checkQueryName('_onion-mx._tcp.example.org.'), { ok: true, name: '_onion-mx._tcp.example.org' });
  });
  it('refuses .onion names in any case (RFC 7686)', () => {
    for (const n of ['x.onion', '_onion-mx._tcp.abc.ONION', 'onion', 'a.onion.']) {
      const r = checkQueryName(n);
      assert.equal(r.ok, false, n);
      assert.equal(!r.ok && r.problem, 'onion');
    }
  });
  it('refuses empty, over-long and malformed names', () => {
    const problem = (n: string): string | undefined => { const r = checkQueryName(n); return r.ok ? undefined : r.problem; };
    assert.equal(problem(''), 'empty');
    assert.equal(problem('.'), 'empty');
    assert.equal(problem(`${'a'.repeat(63)}.`.repeat(4) + 'org'), 'too-long');
    assert.equal(problem(`${'a'.repeat(64)}.org`), 'bad-label');
    assert.equal(problem('a..org'), 'bad-label');
    assert.equal(problem('bad name.org'), 'bad-label');
    assert.equal(problem('bücher.de'), 'bad-label');
  });
});

describe('0x20 case randomisation', () => {
  it('changes only the case of letters', () => {
    const name = '_onion-mx._tcp.example-42.org';
    for (let i = 0; i < 50; i++) {
      const r = randomizeCase(name, randomBytes);
      assert.equal(r.toLowerCase(), name);
      assert.ok(sameName(r, name));
    }
  });
  it('follows the random bits (one bit per character)', () => {
    assert.equal(randomizeCase('abcdefghij', () => Uint8Array.from([0b0000_0101, 0b10])), 'AbCdefghiJ');
  });
  it('produces many different patterns', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(randomizeCase('_onion-mx._tcp.example.org', randomBytes));
    assert.ok(seen.size > 95, `only ${seen.size} distinct patterns`);
  });
});
