// The runner's closing lines count skipped suites, which node:test's own summary leaves out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatSkips, skipOf } from './skips.ts';

describe('skip report', () => {
  it('takes suites and tests that were skipped, with their file relative to the root', () => {
    assert.deepEqual(skipOf({ name: 'real tor', file: '/r/tor/real-tor.test.js', skip: 'no tor', details: { type: 'suite' } }, '/r'), { kind: 'suite', name: 'real tor', file: 'tor/real-tor.test.js', reason: 'no tor' });
    assert.deepEqual(skipOf({ name: 't', skip: true, details: {} }, '/r'), { kind: 'test', name: 't', file: undefined, reason: '(no reason given)' });
    assert.equal(skipOf({ name: 'ran', file: '/r/a.test.js', details: {} }, '/r'), undefined);
    assert.equal(skipOf({ name: 'ran', skip: false, details: { type: 'suite' } }, '/r'), undefined);
  });

  it('counts suites and tests and groups them by reason, in the order they were seen', () => {
    const lines = formatSkips([
      { kind: 'suite', name: 'postfix harness', file: 'mta/a.test.js', reason: 'needs root; fix: run as root' },
      { kind: 'test', name: 'postconf', file: 'cli/b.test.js', reason: 'missing postconf; fix: apt-get install postfix' },
      { kind: 'suite', name: 'postfix milter', file: 'mta/c.test.js', reason: 'needs root; fix: run as root' },
    ]);
    assert.deepEqual(lines, [
      `skipped 3 (2 suites with all their tests, 1 test); node:test's "skipped" above counts single tests only:`,
      '  needs root; fix: run as root:',
      '    suite "postfix harness" (mta/a.test.js)',
      '    suite "postfix milter" (mta/c.test.js)',
      '  missing postconf; fix: apt-get install postfix:',
      '    test "postconf" (cli/b.test.js)',
    ]);
  });

  it('says so when nothing was skipped', () => {
    assert.deepEqual(formatSkips([]), ['skipped: none (every suite and test ran)']);
  });
});
