// `npm start` and `npm test` run this first: it installs the dependencies only when node_modules
// is missing or package.json/package-lock.json changed since the last install, and builds only
// when a source is newer than the build, so a restart takes a moment instead of an npm install
// and a full tsc run. Plain JavaScript: it has to run before anything is compiled.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const at = (...parts) => join(root, ...parts);

/** Modification time in ms, or undefined when the path does not exist. */
function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The newest modification time under `dir`, directories included (a removed file changes its directory). */
function newest(dir) {
  let max = mtime(dir) ?? 0;
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return max;
  }
  for (const e of entries) if (e.isFile() || e.isDirectory()) max = Math.max(max, mtime(join(e.parentPath, e.name)) ?? 0);
  return max;
}

function npm(...args) {
  process.stderr.write(`ensure-built: npm ${args.join(' ')}\n`);
  execFileSync('npm', args, { cwd: root, stdio: 'inherit' });
}

// npm writes node_modules/.package-lock.json last at every install (after package-lock.json):
// it dates the last install.
const installed = mtime(at('node_modules', '.package-lock.json'));
const manifests = Math.max(mtime(at('package.json')) ?? 0, mtime(at('package-lock.json')) ?? 0);
const install = installed === undefined || manifests > installed;
if (install) npm('install', '--no-audit', '--no-fund', '--loglevel=error');

// tsc rewrites every output at each build (no incremental state), so the entry point dates the
// build. New dependencies (their types) are a reason to build too.
const built = mtime(at('dist', 'src', 'cli', 'main.js'));
const sources = Math.max(newest(at('src')), newest(at('test')), mtime(at('tsconfig.json')) ?? 0, mtime(at('package.json')) ?? 0);
if (install || built === undefined || sources > built) npm('run', 'build');
else process.stderr.write('ensure-built: dependencies and build are up to date\n');
