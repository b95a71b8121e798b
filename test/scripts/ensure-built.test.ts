// scripts/ensure-built.mjs (npm start's and npm test's first step) on a copy of the project
// layout with a stand-in npm that records what it was asked to do: a clean checkout installs and
// builds, an unchanged tree does neither, a changed source only builds, a changed lock file or a
// missing node_modules installs (and builds). Modification times are set, not waited for.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../scripts/ensure-built.mjs', import.meta.url));

describe('ensure-built', () => {
  let root: string;
  let calls: string;
  // Later than the real creation times of the directories (a directory counts too: a removed source changes it).
  let t = Math.floor(Date.now() / 1000) + 3600;
  /** Sets a path's modification time to a strictly later moment than every earlier call did. */
  const touch = (...parts: string[]): void => {
    t += 10;
    utimesSync(join(root, ...parts), t, t);
  };
  const run = (): string[] => {
    writeFileSync(calls, '');
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'ensure-built.mjs')], { encoding: 'utf8', env: { ...process.env, PATH: `${join(root, 'fake-bin')}:${process.env['PATH'] ?? ''}` }, timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(calls, 'utf8').split('\n').filter(Boolean);
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'onionmx-ensure-built-'));
    calls = join(root, 'npm-calls');
    for (const d of ['scripts', 'fake-bin', 'src/cli', 'test']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(SCRIPT, join(root, 'scripts', 'ensure-built.mjs'));
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/cli/main.ts', 'test/a.test.ts']) writeFileSync(join(root, f), '{}\n');
    // The stand-in npm does what the real one leaves behind: install writes node_modules/.package-lock.json, build the entry point.
    const npm = join(root, 'fake-bin', 'npm');
    writeFileSync(
      npm,
      [
        '#!/bin/sh',
        `echo "$*" >> ${JSON.stringify(calls)}`,
        `case "$1" in install) mkdir -p node_modules && : > node_modules/.package-lock.json ;; run) mkdir -p dist/src/cli && : > dist/src/cli/main.js ;; esac`,
        '',
      ].join('\n'),
    );
    chmodSync(npm, 0o755);
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('installs and builds a clean checkout', () => {
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/cli/main.ts', 'test/a.test.ts']) touch(f);
    assert.deepEqual(run(), ['install --no-audit --no-fund --loglevel=error', 'run build']);
  });

  it('does nothing when nothing changed', () => {
    touch('node_modules', '.package-lock.json');
    touch('dist', 'src', 'cli', 'main.js');
    assert.deepEqual(run(), []);
  });

  it('builds, without installing, when a source or test is newer than the build', () => {
    touch('src', 'cli', 'main.ts');
    assert.deepEqual(run(), ['run build']);
    touch('dist', 'src', 'cli', 'main.js');
    touch('test', 'a.test.ts');
    assert.deepEqual(run(), ['run build']);
    touch('dist', 'src', 'cli', 'main.js');
    assert.deepEqual(run(), []);
  });

  it('installs and builds when package-lock.json changed or node_modules is missing', () => {
    touch('package-lock.json');
    assert.deepEqual(run(), ['install --no-audit --no-fund --loglevel=error', 'run build']);
    touch('node_modules', '.package-lock.json');
    touch('dist', 'src', 'cli', 'main.js');
    rmSync(join(root, 'node_modules'), { recursive: true });
    assert.deepEqual(run(), ['install --no-audit --no-fund --loglevel=error', 'run build']);
  });

  it('builds again when the build output is gone', () => {
    touch('node_modules', '.package-lock.json');
    rmSync(join(root, 'dist'), { recursive: true });
    assert.deepEqual(run(), ['run build']);
  });
});
