import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { packTable, unpackTable } from '../../../src/resolve/maps/packed-table.ts';
import type { StaticLookup } from '../../../src/resolve/maps/types.ts';

const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

function route(name: string, port = 25): StaticLookup {
  return { kind: 'route', onion: ONION, port, origin: `m.yml:${name.length}`, matched: name };
}

describe('packed map table', () => {
  it('answers every packed name as the Map it came from, and nothing else', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.domain(), { maxLength: 60 }), fc.domain(), (names, other) => {
        const source = new Map(names.map((n, i) => [n, route(n, 25 + i)] as const));
        const table = unpackTable(packTable(source));
        assert.equal(table.size, source.size);
        for (const [name, answer] of source) assert.deepEqual(table.get(name), answer);
        if (!source.has(other)) assert.equal(table.get(other), undefined);
        assert.deepEqual(new Map(table.entries()), source);
      }),
    );
  });

  it('keeps conflicts with their places, frozen', () => {
    const conflict: StaticLookup = { kind: 'conflict', places: ['a.yml:1', 'b.yml:2'], matched: 'x.example' };
    const answer = unpackTable(packTable([['x.example', conflict]])).get('x.example');
    assert.deepEqual(answer, conflict);
    assert.ok(Object.isFrozen(answer));
    assert.ok(answer?.kind === 'conflict' && Object.isFrozen(answer.places));
  });

  it('does not answer a prefix or an extension of a packed name', () => {
    const table = unpackTable(packTable([['example.org', route('example.org')]]));
    assert.equal(table.get('example.or'), undefined);
    assert.equal(table.get('example.org.'), undefined);
    assert.equal(table.get(''), undefined);
    assert.equal(unpackTable(packTable([])).get('example.org'), undefined);
  });
});
