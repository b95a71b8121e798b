import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { detectFormat, staticMapFromTexts } from '../../../src/resolve/maps/index.ts';
import type { MapProblem, StaticLookupOptions, StaticMap } from '../../../src/resolve/maps/index.ts';

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const B = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';
const C = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';
const D = '2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion';
const BAD_CHECKSUM = 'qg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

function load(...texts: string[]): StaticMap {
  return staticMapFromTexts(texts.map((text, index) => ({ file: `m${index + 1}.yml`, text })));
}

function problems(map: StaticMap, code?: MapProblem['code']): MapProblem[] {
  return map.problems.filter((p) => code === undefined || p.code === code);
}

function route(
  map: StaticMap,
  domain: string,
  options?: StaticLookupOptions,
): { onion: string; port: number; origin: string } | undefined {
  const answer = map.lookup(domain, options);
  return answer.kind === 'route' ? { onion: answer.onion, port: answer.port, origin: answer.origin } : undefined;
}

describe('conflicts and duplicates', () => {
  it('a domain mapped to two different onions across files is a conflict naming both places; the rest loads', () => {
    const map = load(`x.example: ${A}\nkeep1.example: ${A}\n`, `keep2.example: ${B}\nx.example: ${B}\n`);
    assert.deepEqual(map.lookup('x.example'), { kind: 'conflict', places: ['m1.yml:1', 'm2.yml:2'], matched: 'x.example' });
    const [conflict, ...others] = problems(map, 'conflict');
    assert.equal(others.length, 0);
    assert.equal(conflict?.severity, 'error');
    assert.ok(conflict?.reason.includes(`m1.yml:1 (${A}:25)`), conflict?.reason);
    assert.ok(conflict?.reason.includes(`m2.yml:2 (${B}:25)`), conflict?.reason);
    assert.equal(route(map, 'keep1.example')?.onion, A);
    assert.equal(route(map, 'keep2.example')?.onion, B);
    assert.equal(map.stats.conflicts, 1);
    assert.equal(map.stats.domains, 2);
    assert.ok(map.isComplete, 'a conflict is answered per domain; the maps are still complete');
  });

  it('finds conflicts between the OnionMX and the native format', () => {
    const map = load(`'${A}':\n  - riseup.example\n`, `# pins\nriseup.example: ${B}\n`);
    assert.deepEqual(map.lookup('riseup.example'), { kind: 'conflict', places: ['m1.yml:2', 'm2.yml:2'], matched: 'riseup.example' });
  });

  it('finds conflicts within one OnionMX file (one domain under two onion keys)', () => {
    const map = load(`'${A}':\n  - both.example\n'${B}':\n  - other.example\n  - both.example\n`);
    assert.deepEqual(map.lookup('both.example'), { kind: 'conflict', places: ['m1.yml:2', 'm1.yml:5'], matched: 'both.example' });
    assert.equal(route(map, 'other.example')?.onion, B);
  });

  it('finds conflicts within one native file between spellings of the same domain', () => {
    const map = load(`bücher.example: ${A}\nXN--BCHER-KVA.example.: ${B}\n`);
    assert.equal(map.lookup('xn--bcher-kva.example').kind, 'conflict');
  });

  it('treats the same onion on a different port as a conflict', () => {
    const map = load(`p.example: ${A}\n`, `p.example: { onion: ${A}, port: 2525 }\n`);
    assert.equal(map.lookup('p.example').kind, 'conflict');
  });

  it('a domain listed twice with the same target is a warning, not a conflict; the first place is the origin', () => {
    const map = load(`'${A}':\n  - twice.example\n`, `TWICE.example: ${A.toUpperCase()}\n`, `twice.example: { onion: ${A}, port: 25 }\n`);
    assert.deepEqual(route(map, 'twice.example'), { onion: A, port: 25, origin: 'm1.yml:2' });
    const duplicates = problems(map, 'duplicate');
    assert.deepEqual(duplicates.map((p) => [p.severity, p.file, p.line]), [['warning', 'm2.yml', 1], ['warning', 'm3.yml', 1]]);
    assert.ok(duplicates.every((p) => p.reason.includes('first at m1.yml:2')));
    assert.equal(problems(map, 'conflict').length, 0);
  });

  it('a duplicate YAML key is a YAML error for its file, with its line', () => {
    const map = load(`d.example: ${A}\nd.example: ${B}\n`);
    const [problem] = problems(map, 'yaml-syntax');
    assert.equal(problem?.line, 2);
    assert.match(problem?.reason ?? '', /duplicated mapping key/);
  });
});

describe('parent-domain matching', () => {
  const text = [
    `.example.org: ${A}`,
    `.eu.example.org: ${B}`,
    `mx.eu.example.org: ${C}`,
    `plain.example: ${D}`,
    `'*.star.example': ${D}`,
  ].join('\n');

  it('a .parent entry matches subdomains at any depth but not the parent itself', () => {
    const map = load(text);
    assert.equal(route(map, 'lists.example.org')?.onion, A);
    assert.equal(route(map, 'a.b.c.example.org')?.onion, A);
    assert.equal(map.lookup('example.org').kind, 'none');
    assert.equal(map.lookup('notexample.org').kind, 'none');
  });

  it('the exact entry wins, then the longest parent', () => {
    const map = load(text);
    assert.equal(route(map, 'mx.eu.example.org')?.onion, C);
    assert.equal(route(map, 'lists.eu.example.org')?.onion, B);
    assert.equal(route(map, 'eu.example.org')?.onion, A, '.eu.example.org does not match eu.example.org itself');
    const answer = map.lookup('deep.lists.eu.example.org');
    assert.ok(answer.kind === 'route');
    assert.equal(answer.matched, '.eu.example.org');
  });

  it('*.parent is a synonym of .parent', () => {
    const map = load(text);
    assert.equal(route(map, 'mx.star.example')?.onion, D);
    assert.equal(map.lookup('star.example').kind, 'none');
  });

  it('exact entries match only themselves unless parent matching is on (map option or per lookup)', () => {
    const off = load(text);
    assert.equal(off.lookup('sub.plain.example').kind, 'none');
    assert.equal(route(off, 'sub.plain.example', { parentMatch: true })?.onion, D);

    const on = staticMapFromTexts([{ file: 'm1.yml', text }], { parentMatch: true });
    assert.equal(route(on, 'a.b.plain.example')?.onion, D);
    assert.equal(on.lookup('a.b.plain.example', { parentMatch: false }).kind, 'none', 'the lookup option overrides the map option');
    assert.equal(route(on, 'x.mx.eu.example.org')?.onion, C, 'with parent matching the longest exact parent wins too');
  });

  it('an explicit parent entry wins over an exact entry of the same name under parentMatch', () => {
    const map = staticMapFromTexts([{ file: 'm.yml', text: `same.example: ${A}\n.same.example: ${B}\n` }], { parentMatch: true });
    assert.equal(route(map, 'same.example')?.onion, A);
    assert.equal(route(map, 'sub.same.example')?.onion, B);
  });

  it('the OnionMX format accepts .parent entries in its domain lists', () => {
    const map = load(`'${A}':\n  - .lists.example\n`);
    assert.equal(route(map, 'x.lists.example')?.onion, A);
    assert.equal(map.lookup('lists.example').kind, 'none');
  });
});

describe('entry and value problems: warned with file:line, skipped, never thrown', () => {
  it('skips wrong value types in the native format, each with its line', () => {
    const map = load(
      [
        `ok.example: ${A}`,
        'null.example:',
        `list.example: [${A}]`,
        'number.example: 42',
        `typo.example: { onion: ${A}, prot: 2525 }`,
        `port0.example: { onion: ${A}, port: 0 }`,
        `port-big.example: { onion: ${A}, port: 65536 }`,
        `port-text.example: { onion: ${A}, port: "25" }`,
        `port-float.example: { onion: ${A}, port: 25.5 }`,
        'no-onion.example: { port: 25 }',
        `bad_domain.example: ${A}`,
        `checksum.example: ${BAD_CHECKSUM}`,
        'v2.example: wy6zk3pmcwiyhiao.onion',
        'clearnet.example: mx.example.net',
      ].join('\n'),
    );
    assert.deepEqual(
      map.problems.map((p) => [p.code, p.line]),
      [
        ['bad-value', 2], ['bad-value', 3], ['bad-value', 4], ['bad-value', 5], ['bad-value', 6], ['bad-value', 7],
        ['bad-value', 8], ['bad-value', 9], ['bad-value', 10], ['invalid-domain', 11], ['invalid-onion', 12],
        ['v2-onion', 13], ['invalid-onion', 14],
      ],
    );
    assert.ok(map.problems.every((p) => p.severity === 'warning' && p.message.startsWith(`m1.yml:${p.line ?? ''}: `)));
    assert.match(problems(map, 'bad-value')[3]?.reason ?? '', /unknown field 'prot'/);
    assert.match(problems(map, 'invalid-domain')[0]?.reason ?? '', /'_'/);
    assert.match(problems(map, 'v2-onion')[0]?.reason ?? '', /v2 onion services no longer work in Tor/);
    assert.deepEqual(map.stats, { files: 1, onions: 1, domains: 1, skipped: 13, skippedOnions: 3, conflicts: 0 });
  });

  it('skips wrong value types in the OnionMX format, each with its line', () => {
    const map = load(
      [
        `'${A}':`,
        '  - good.example',
        '  - 42',
        '  - [nested.example]',
        '  - bad..example',
        `  - ${B}`,
        `'${B}': { a: b }`,
        `'${C}': single.example`,
        `'${D}':`,
        `'${BAD_CHECKSUM}':`,
        '  - lost.example',
      ].join('\n'),
    );
    assert.deepEqual(
      map.problems.map((p) => [p.code, p.line]),
      [['bad-value', 3], ['bad-value', 4], ['invalid-domain', 5], ['invalid-domain', 6], ['bad-value', 7], ['null-value', 9], ['invalid-onion', 10]],
    );
    assert.match(problems(map, 'invalid-domain')[1]?.reason ?? '', /routed directly/);
    assert.match(problems(map, 'invalid-onion')[0]?.reason ?? '', /checksum.*lost\.example/);
    assert.equal(route(map, 'good.example')?.onion, A);
    assert.equal(route(map, 'single.example')?.onion, C, 'a single string is a one-element list');
    assert.equal(map.lookup('lost.example').kind, 'none');
  });

  it('skips keys that do not fit the detected format', () => {
    const onionmx = load(`'${A}':\n  - a.example\n'${B}':\n  - b.example\nstray.example: ${C}\n`);
    assert.deepEqual(onionmx.problems.map((p) => [p.code, p.line]), [['mixed-format', 5]]);
    assert.equal(onionmx.lookup('stray.example').kind, 'none');

    const native = load(`a.example: ${A}\nb.example: ${B}\n'${C}':\n  - c.example\n`);
    assert.deepEqual(native.problems.map((p) => [p.code, p.line]), [['mixed-format', 3]]);
    assert.equal(route(native, 'a.example')?.onion, A);
  });

  it('detects the format by the majority of keys', () => {
    assert.equal(detectFormat([A, B, 'x.example']), 'onionmx');
    assert.equal(detectFormat([A, 'x.example']), 'onionmx');
    assert.equal(detectFormat([A, 'x.example', 'y.example']), 'native');
    assert.equal(detectFormat(['x.example']), 'native');
    assert.equal(detectFormat([]), 'native');
  });

  it('treats __proto__ and other odd keys as plain data', () => {
    const map = load(`__proto__: ${A}\nconstructor.example: ${A}\n`);
    assert.deepEqual(problems(map).map((p) => p.code), ['invalid-domain']);
    assert.equal(route(map, 'constructor.example')?.onion, A);
  });

  it('never throws, whatever the YAML', () => {
    const piece = fc.constantFrom(A, `'${B}'`, 'x.example', '.p.example', ':', ' ', '\n', '  - ', '{', '}', '[', ']', ',', 'port: 25', 'onion:', '~', '42', '#', '"');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (parts) => {
        const map = load(parts.join(''));
        assert.equal(typeof map.stats.files, 'number');
        for (const entry of map.entries()) assert.notEqual(map.lookup(entry.domain.replace(/^\./, 'sub.')).kind, 'none');
      }),
      { numRuns: 500 },
    );
  });
});

describe('the StaticMap object', () => {
  const map = load(`b.example: ${B}\n.a.example: ${A}\na.example: ${A}\nc.example: ${C}\n`, `c.example: ${D}\n`);

  it('lists entries sorted by domain, parent entries next to their domain, conflicts included', () => {
    assert.deepEqual(map.entries(), [
      { domain: 'a.example', kind: 'route', onion: A, port: 25, origin: 'm1.yml:3' },
      { domain: '.a.example', kind: 'route', onion: A, port: 25, origin: 'm1.yml:2' },
      { domain: 'b.example', kind: 'route', onion: B, port: 25, origin: 'm1.yml:1' },
      { domain: 'c.example', kind: 'conflict', places: ['m1.yml:4', 'm2.yml:1'] },
    ]);
  });

  it('normalises lookups (case, trailing dot, IDN) and answers none for invalid or unknown domains', () => {
    assert.equal(route(map, 'B.Example.')?.onion, B);
    for (const junk of ['', '.', 'a..example', 'x_y.example', '[192.0.2.1]', 'nope.example', 'example', 'a'.repeat(300)]) {
      assert.deepEqual(map.lookup(junk), { kind: 'none' }, junk);
    }
    assert.deepEqual(map.lookup(undefined as unknown as string), { kind: 'none' });
  });

  it('is immutable', () => {
    assert.throws(() => {
      (map.stats as { files: number }).files = 9;
    }, TypeError);
    assert.throws(() => {
      (map.problems as MapProblem[]).push(map.problems[0]!);
    }, TypeError);
    assert.throws(() => {
      (map.entries() as unknown[]).pop();
    }, TypeError);
    const answer = map.lookup('b.example');
    assert.throws(() => {
      (answer as { onion: string }).onion = C;
    }, TypeError);
    assert.equal(route(map, 'b.example')?.onion, B);
  });
});
