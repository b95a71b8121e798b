import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseYamlWithLines } from '../../../src/resolve/maps/yaml-lines.ts';
import type { LineInfo } from '../../../src/resolve/maps/yaml-lines.ts';

function parsed(text: string): { value: unknown; lines: LineInfo } {
  const result = parseYamlWithLines(text, 'test.yml');
  assert.ok(result.ok, JSON.stringify(result));
  return result;
}

function keyLine(lines: LineInfo, key: string): number | undefined {
  return lines.keys?.get(key)?.keyLine;
}

describe('parseYamlWithLines', () => {
  it('gives the line of every top-level key and every list item, across comments and blank lines', () => {
    const { lines } = parsed(
      ['# header', '---', "'a.onion':", "'b.onion':", "  - 'x.org'", '', '  # note', '  - y.org  # trailing', 'c: 1'].join('\n'),
    );
    assert.equal(keyLine(lines, 'a.onion'), 3);
    assert.equal(keyLine(lines, 'b.onion'), 4);
    assert.equal(keyLine(lines, 'c'), 9);
    assert.deepEqual(lines.keys?.get('b.onion')?.value.items?.map((i) => i.line), [5, 8]);
    assert.equal(lines.keys?.get('a.onion')?.value.line, 3, 'a null value sits on its key line');
  });

  it('gives lines inside nested mappings and flow collections', () => {
    const { lines } = parsed(['a:', '  onion: x', '', '  port: 25', 'b: {onion: y, port: 1}', 'c: [p,', '  q]'].join('\n'));
    const a = lines.keys?.get('a')?.value;
    assert.equal(keyLine(a ?? { line: 0 }, 'onion'), 2);
    assert.equal(keyLine(a ?? { line: 0 }, 'port'), 4);
    assert.equal(lines.keys?.get('b')?.keyLine, 5);
    assert.deepEqual(lines.keys?.get('c')?.value.items?.map((i) => i.line), [6, 7]);
  });

  it('gives lines inside collections nested in sequences', () => {
    const { lines } = parsed(['list:', '  - {a: 1}', '  - b: 2', '    c: 3', '  - - x', '    - y'].join('\n'));
    const items = lines.keys?.get('list')?.value.items;
    assert.equal(items?.[0]?.keys?.get('a')?.keyLine, 2);
    assert.equal(items?.[1]?.keys?.get('c')?.keyLine, 4);
    assert.deepEqual(items?.[2]?.items?.map((i) => i.line), [5, 6]);
  });

  it('keeps the parsed values exact (CORE schema: no timestamps, no custom tags)', () => {
    const { value } = parsed(['a: 2001-01-01', 'b: 0x10', 'c: ~', 'd: "25"', 'e: yes'].join('\n'));
    assert.deepEqual(value, { a: '2001-01-01', b: 16, c: null, d: '25', e: 'yes' });
  });

  it('ignores a byte order mark', () => {
    const { value, lines } = parsed('\uFEFFa: 1\nb: 2\n');
    assert.deepEqual(value, { a: 1, b: 2 });
    assert.equal(keyLine(lines, 'b'), 2);
  });

  it('falls back to the enclosing line for aliases instead of guessing', () => {
    const { value, lines } = parsed(['base: &x', '  - a', 'copy: *x'].join('\n'));
    assert.deepEqual(value, { base: ['a'], copy: ['a'] });
    assert.equal(keyLine(lines, 'copy'), 3);
    assert.equal(lines.keys?.get('copy')?.value.items, undefined);
  });

  const BROKEN: readonly (readonly [text: string, line: number, pattern: RegExp])[] = [
    ['a: [1, 2\n', 2, /flow collection/],
    ['a: 1\na: 2\n', 2, /duplicated mapping key/],
    ['a: 1\n  b: 2\n', 2, /bad indentation/],
    ['ok: 1\nbad: "unterminated\n', 3, /unexpected end/],
    ["a: 1\n---\nb: 2\n", 3, /single YAML document/],
    ['a: !!js/function "x"\n', 1, /unknown tag/],
    ['a: *nope\n', 1, /unidentified alias/],
    [`${'['.repeat(50)}${']'.repeat(50)}`, 1, /maxDepth/],
  ];
  for (const [text, line, pattern] of BROKEN) {
    it(`reports broken YAML ${JSON.stringify(text.slice(0, 24))} at line ${line} with a column`, () => {
      const result = parseYamlWithLines(text, 'test.yml');
      assert.ok(!result.ok);
      assert.equal(result.line, line);
      assert.ok(result.column >= 1);
      assert.match(result.reason, pattern);
    });
  }

  it('never throws, whatever the text', () => {
    const yamlish = fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', ',', '#', '"', "'", '&x', '*x', '?', '!', '|', '>', '\t', '%');
    fc.assert(
      fc.property(fc.array(yamlish, { maxLength: 60 }), (parts) => {
        const result = parseYamlWithLines(parts.join(''), 'fuzz.yml');
        if (!result.ok) assert.ok(result.line >= 1);
      }),
      { numRuns: 3000 },
    );
  });
});
