// The test runner on a fixture directory: its closing lines must count and name a skipped suite
// (which node:test's own summary does not count) and a skipped test, each with its reason and fix.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNNER = fileURLToPath(new URL('../run.js', import.meta.url));
const SYSTEM = new URL('../helpers/system.js', import.meta.url).href;

function runRunner(root: string, ...args: string[]): { status: number | null; lines: string[] } {
  const env = { ...process.env };
  // The fixture's needPrograms must skip, not fail, whatever this run demands.
  delete env['ONIONMX_REQUIRE_SYSTEM'];
  delete env['ONIONMX_SKIP_SYSTEM'];
  // Set by node:test in the process running this file; a runner that inherits it reports to a parent that is not there.
  delete env['NODE_TEST_CONTEXT'];
  const r = spawnSync(process.execPath, [RUNNER, '--root', root, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.error, undefined, String(r.error));
  return { status: r.status, lines: r.stdout.trimEnd().split('\n') };
}

describe('test runner closing lines', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'onionmx-runner-'));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
    writeFileSync(
      join(root, 'skips.test.js'),
      [
        `import { describe, it } from 'node:test';`,
        `import { needPrograms } from ${JSON.stringify(SYSTEM)};`,
        `describe('needs a program', { skip: needPrograms('onionmx-no-such-program', 'promtool-none') }, () => { it('never runs', () => { throw new Error('ran'); }); });`,
        `describe('mostly runs', () => {`,
        `  it('passes', () => {});`,
        `  it('skipped alone', { skip: 'fixture: skipped on purpose' }, () => { throw new Error('ran'); });`,
        `});`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(root, 'plain.test.js'), `import { it } from 'node:test';\nit('passes too', () => {});\n`);
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('counts and names the skipped suite and test last, with reason and fix', () => {
    const { status, lines } = runRunner(root);
    assert.equal(status, 0, lines.join('\n'));
    // node:test's own count leaves the suite out: that is why the runner adds its lines.
    assert.ok(lines.some((l) => /skipped 1$/.test(l)), lines.join('\n'));
    const tail = lines.slice(-5);
    assert.deepEqual(tail, [
      `skipped 2 (1 suite with all its tests, 1 test); node:test's "skipped" above counts single tests only:`,
      `  missing system programs: onionmx-no-such-program, promtool-none; fix: apt-get install onionmx-no-such-program promtool-none, or run .ci/run as root (README "Real-MTA and real-DNS suites locally"):`,
      '    suite "needs a program" (skips.test.js)',
      '  fixture: skipped on purpose:',
      '    test "skipped alone" (skips.test.js)',
    ]);
  });

  it('says nothing was skipped when a run skipped nothing', () => {
    const { status, lines } = runRunner(root, 'plain');
    assert.equal(status, 0, lines.join('\n'));
    assert.equal(lines.at(-1), 'skipped: none (every suite and test ran)');
  });

  it('still fails the run when a test fails', () => {
    writeFileSync(join(root, 'fails.test.js'), `import { it } from 'node:test';\nit('fails', () => { throw new Error('on purpose'); });\n`);
    const { status, lines } = runRunner(root, 'fails');
    assert.equal(status, 1, lines.join('\n'));
    assert.equal(lines.at(-1), 'skipped: none (every suite and test ran)');
  });
});
