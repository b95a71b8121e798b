import { test } from 'node:test';
import assert from 'node:assert/strict';
import { minimiseLines } from './minimise.ts';

test('minimiseLines keeps only the lines and characters the failure needs', () => {
  const text = ['a: 1', 'b:', '  c: 2', 'trigger: xyz', 'd: 4', 'e: [5]'].join('\n');
  const fails = (t: string): boolean => t.includes('trigger') && t.includes('c:');
  assert.equal(minimiseLines(text, fails), 'c:\ntrigger');
});

test('minimiseLines returns the input when nothing smaller fails', () => {
  assert.equal(minimiseLines('x', (t) => t === 'x'), 'x');
});
