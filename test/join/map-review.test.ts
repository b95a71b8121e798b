import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { reviewMaps, formatReviewProblem } from '../../src/join/map-review.ts';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/maps/onionmx-map.yml', import.meta.url));
const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const B = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';
const A_TYPO = A.replace('aj3n', 'aj3m');
const HEADER = '# Keep the onion keys in alphabetical order.\n---\n';

const review = (text: string, file = 'map.yml'): [number, string, string][] =>
  reviewMaps([{ file, text }]).problems.map((p) => [p.line, p.code, p.reason]);

describe('map review', () => {
  test('the upstream OnionMX map: exactly its known defects (null value, 7 v2 keys, unsorted keys), nothing else', () => {
    const r = reviewMaps([{ file: 'onionmx-map.yml', text: readFileSync(FIXTURE, 'utf8') }]);
    assert.deepEqual(
      r.problems.map((p) => [p.line, p.code]),
      [
        [21, 'v2-onion'],
        [21, 'null-value'],
        [24, 'v2-onion'],
        [24, 'keys-unsorted'],
        [27, 'v2-onion'],
        [35, 'v2-onion'],
        [40, 'v2-onion'],
        [47, 'v2-onion'],
        [76, 'v2-onion'],
      ],
    );
    const v2 = r.problems.filter((p) => p.code === 'v2-onion').map((p) => /'([a-z2-7]+\.onion)'/.exec(p.reason)?.[1]);
    assert.deepEqual(v2.sort(), ['4my2dd2okjr75aho.onion', 'blackhost5xlrhev.onion', 'cssj56utefk3wxsv.onion', 'lloiryev7cvzszsn.onion', 'mssatgg2rwa4aytk.onion', 'tyiw2fzn3uckv2my.onion', 'zq36q5rfxd3cnvd5.onion']);
    assert.match(formatReviewProblem(r.problems[1]!), /^onionmx-map\.yml:21: onion 'blackhost5xlrhev\.onion' has no value \(null\)/);
    assert.match(r.problems[3]!.reason, /'4my2dd2okjr75aho\.onion' comes after 'blackhost7pws/);
    // The 9 v3 keys carry 29 domains, all usable for --verify-srv.
    assert.equal(r.entries.length, 29);
    assert.equal(new Set(r.entries.map((e) => e.onion)).size, 9);
  });

  test('a good map has no problem', () => {
    const text = `${HEADER}'${A}':\n  - 'a.example'\n  - 'b.example'\n'${B}':\n  - 'c.example'\n`;
    assert.deepEqual(review(text), []);
    assert.deepEqual(reviewMaps([{ file: 'm', text }]).entries.map((e) => [e.line, e.domain]), [[4, 'a.example'], [5, 'b.example'], [7, 'c.example']]);
  });

  test('without a header asking for order, unsorted keys are no problem', () => {
    assert.deepEqual(review(`'${B}': [c.example]\n'${A}': [a.example]\n`), []);
    assert.deepEqual(review(`${HEADER}'${B}': [c.example]\n'${A}': [a.example]\n`).map((p) => p.slice(0, 2)), [[4, 'keys-unsorted']]);
  });

  const bad: [string, string, [number, string, RegExp][]][] = [
    ['broken YAML', `${HEADER}'${A}': [a.example\n`, [[4, 'yaml-syntax', /invalid YAML/]]],
    ['a key listed twice (YAML duplicate)', `'${A}': [a.example]\n'${A}': [b.example]\n`, [[2, 'yaml-syntax', /duplicated mapping key/]]],
    ['a list at the top', `- '${A}'\n`, [[1, 'not-a-mapping', /got a list/]]],
    ['an empty file', '# nothing\n', [[1, 'empty', /no entries/]]],
    ['a checksum typo', `'${A_TYPO}': [a.example]\n`, [[1, 'invalid-onion', /checksum mismatch/]]],
    ['a domain as key', `'a.example': ['${A}']\n`, [[1, 'invalid-onion', /not an \.onion address/], [1, 'invalid-domain', /is an \.onion name/]]],
    ['an upper-case onion', `'${A.toUpperCase()}': [a.example]\n`, [[1, 'non-canonical-onion', /must be written as 'aj3n/]]],
    ['an empty list', `'${A}': []\n`, [[1, 'empty-list', /lists no domains/]]],
    ['a scalar value', `'${A}': 7\n`, [[1, 'bad-value', /got number 7/]]],
    ['a non-string domain', `'${A}':\n  - [x]\n`, [[2, 'bad-value', /must be a string, got a list/]]],
    ['an invalid domain', `'${A}':\n  - 'exa mple.org'\n`, [[2, 'invalid-domain', /domain 'exa mple\.org'/]]],
    ['a domain in upper case', `'${A}':\n  - 'A.Example'\n`, [[2, 'non-canonical-domain', /must be written as 'a\.example'/]]],
    ['a domain listed twice under two onions', `'${A}':\n  - 'a.example'\n'${B}':\n  - 'a.example'\n`, [[4, 'duplicate-domain', /already listed at map\.yml:2/]]],
    ['a domain listed twice under one onion', `'${A}':\n  - 'a.example'\n  - 'a.example'\n`, [[3, 'duplicate-domain', /already listed at map\.yml:2/]]],
    ['unsorted domains', `'${A}':\n  - 'b.example'\n  - 'a.example'\n`, [[3, 'domains-unsorted', /a\.example comes after b\.example/]]],
    ['the same onion twice in different spellings', `'${A}': [a.example]\n'${A.toUpperCase()}': [b.example]\n`, [[2, 'non-canonical-onion', /must be written/], [2, 'duplicate-onion', /already listed at map\.yml:1/]]],
  ];
  for (const [name, text, expected] of bad) {
    test(`reports ${name} with line and reason`, () => {
      const got = review(text);
      assert.equal(got.length, expected.length, JSON.stringify(got));
      expected.forEach(([line, code, reason], i) => {
        assert.equal(got[i]?.[0], line);
        assert.equal(got[i]?.[1], code);
        assert.match(got[i]?.[2] ?? '', reason);
      });
    });
  }

  test('duplicates are found across files, naming the first file', () => {
    const r = reviewMaps([
      { file: 'one.yml', text: `'${A}': [a.example]\n` },
      { file: 'two.yml', text: `'${B}':\n  - a.example\n` },
    ]);
    assert.deepEqual(r.problems.map(formatReviewProblem), ['two.yml:2: domain a.example is already listed at one.yml:1']);
  });

  test('hostile input never throws', () => {
    for (const text of ['', '\0', ':', '- - - -', '{a: b}', `'${A}': {x: y}`, '&a [*a]', 'x: !!js/function "f()"', '"\\uD800": 1']) {
      assert.doesNotThrow(() => reviewMaps([{ file: 'x', text }]));
    }
  });
});
