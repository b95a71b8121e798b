// The package as an operator gets it: `npm pack` of a copy of this checkout (its prepack runs the
// build; a copy, so that the dist/ the other suites run from is not rebuilt under them), then
// `npm install -g --prefix <tmp> --offline` with an empty npm cache: the runtime dependencies are
// bundled in the tarball, so the install needs neither the network nor a cache. The installed
// command must print --help, pass `check` and serve a milter transaction with the bundled OnionMX
// map, drain on SIGTERM, have its man pages where man finds them, and the systemd unit (ExecStart
// pointed at this prefix instead of /usr/local; its Documentation= man pages from this install)
// must pass systemd-analyze verify.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { needPrograms } from '../helpers/system.ts';
import { startDaemon } from '../helpers/e2e-daemon.ts';
import { routeHeaderFor } from '../helpers/milter-transaction.ts';
import { removeAtProcessEnd } from '../helpers/process-end.ts';
import { validateOnion } from '../../src/resolve/onion.ts';

const PROJECT = fileURLToPath(new URL('../../../', import.meta.url));
/** What a build needs; the copy gets node_modules as hard links (fast, and nothing writes there). */
const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', 'src', 'examples'];
const skip = needPrograms('npm', 'tar');

/** npm's own environment variables (set by `npm test`) would leak the outer run's settings. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  env['PATH'] = `${dirname(process.execPath)}:${env['PATH'] ?? ''}`;
  return env;
}

function run(program: string, args: readonly string[], cwd: string): string {
  const r = spawnSync(program, args, { cwd, env: npmEnv(), encoding: 'utf8', timeout: 400_000 });
  assert.equal(r.status, 0, `${program} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f));
}

describe('npm pack, then npm install -g from the tarball, offline', { skip }, () => {
  let tmp: string;
  let release: () => void;
  let tarball: string;
  let entries: string[];
  let prefix: string;
  let bin: string;
  let installed: string;

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'onionmx-pack-'));
    release = removeAtProcessEnd(tmp);
    const copy = join(tmp, 'project');
    mkdirSync(copy);
    for (const f of SOURCES) cpSync(join(PROJECT, f), join(copy, f), { recursive: true });
    execFileSync('cp', ['-al', join(PROJECT, 'node_modules'), join(copy, 'node_modules')]);
    run('npm', ['pack', '--offline', '--loglevel=error', '--pack-destination', tmp], copy);
    const tgz = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
    assert.equal(tgz.length, 1, tgz.join(' '));
    tarball = join(tmp, tgz[0] ?? '');
    entries = run('tar', ['-tzf', tarball], tmp).split('\n').filter((e) => e !== '');
    prefix = join(tmp, 'prefix');
    const emptyCache = join(tmp, 'empty-npm-cache');
    mkdirSync(emptyCache);
    run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--cache', emptyCache, '--no-audit', '--no-fund', '--loglevel=error', tarball], tmp);
    bin = join(prefix, 'bin/onionmx-milter');
    installed = join(prefix, 'lib/node_modules/onionmx-milter');
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
    release();
  });

  test('the tarball holds the build, the bundled map, man pages, examples, README and licence, and nothing of the sources or tests', () => {
    for (const e of [
      'package/dist/src/cli/main.js',
      'package/dist/src/resolve/bundled/onionmx-map.yml',
      'package/dist/man/onionmx-milter.8',
      'package/dist/man/onionmx-milter.yml.5',
      'package/examples/config.yml',
      'package/examples/systemd/onionmx-milter.service',
      'package/examples/systemd/onionmx-milter.sysusers',
      'package/examples/systemd/onionmx-milter.tmpfiles',
      'package/README.md',
      'package/LICENSE',
    ]) {
      assert.ok(entries.includes(e), `missing ${e}`);
    }
    const own = entries.filter((e) => !e.startsWith('package/node_modules/'));
    assert.deepEqual(own.filter((e) => /^package\/(src|test|dist\/test)\//.test(e) || e.endsWith('.js.map') || (e.endsWith('.ts') && !e.endsWith('.d.ts'))), []);
  });

  test('bundles exactly the runtime dependencies, no development tool', () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const bundled = new Set(entries.map((e) => /^package\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(e)?.[1]).filter((n) => n !== undefined));
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(bundled.has(dep), `${dep} not bundled`);
    for (const dev of Object.keys(pkg.devDependencies)) assert.ok(!bundled.has(dev), `dev dependency ${dev} bundled`);
  });

  test('everything the installed code imports is Node itself or a bundled dependency', () => {
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const imported = new Set<string>();
    for (const file of walk(join(installed, 'dist/src')).filter((f) => f.endsWith('.js'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s+'([^'.][^']*)'|import\('([^'.][^']*)'\)/gm)) {
        const spec = m[1] ?? m[2] ?? '';
        if (spec.startsWith('node:')) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec));
      }
    }
    assert.ok(imported.size > 0);
    for (const name of imported) {
      assert.ok(Object.hasOwn(pkg.dependencies, name), `dist imports ${name}, which is not a dependency`);
      assert.ok(existsSync(join(installed, 'node_modules', name, 'package.json')), `${name} is not installed with the package`);
    }
  });

  test('the installed command prints --help', () => {
    const out = run(bin, ['--help'], tmp);
    for (const c of ['serve', 'check', 'resolve', 'probe', 'map']) assert.match(out, new RegExp(`^  ${c} `, 'm'));
  });

  describe('with a config that uses only the bundled OnionMX map', () => {
    let dir: string;
    let config: string;
    let domain: string;
    let onion: string;
    before(() => {
      dir = join(tmp, 'run');
      mkdirSync(dir);
      config = join(dir, 'config.yml');
      writeFileSync(config, `milter:\n  listen: unix:${dir}/milter.sock\nsrv: {enabled: false}\ndns: {servers: ["127.0.0.1:9"]}\n`);
      // A v3 entry of the installed map, and one of its domains.
      const map = yaml.load(readFileSync(join(installed, 'dist/src/resolve/bundled/onionmx-map.yml'), 'utf8')) as Record<string, unknown>;
      const entry = Object.entries(map).find(([key, domains]) => validateOnion(key).ok && Array.isArray(domains) && typeof domains[0] === 'string');
      assert.ok(entry !== undefined, 'the bundled map has a valid v3 entry');
      onion = entry[0];
      domain = String((entry[1] as unknown[])[0]);
    });

    test('check passes and reports the bundled map', () => {
      const out = run(bin, ['check', '--offline', '--config', config], tmp);
      assert.match(out, /^bundled map: 1 file\(s\), [1-9]\d* domain\(s\)/m);
      assert.match(out, /^check: OK$/m);
    });

    test('serve routes a recipient of a bundled-map domain in a real milter transaction and exits 0 on SIGTERM', async () => {
      const daemon = await startDaemon(config, { command: [bin] });
      try {
        assert.equal(await routeHeaderFor(`unix:${dir}/milter.sock`, `postmaster@${domain}`), `onionrelay:[${onion}]:25`);
        assert.equal(await daemon.stop(), 0);
        assert.equal(existsSync(join(dir, 'milter.sock')), false);
      } finally {
        await daemon.kill();
      }
    });
  });

  test('npm linked the man pages into the prefix, where man finds them', { skip: needPrograms('man') }, () => {
    const manpath = join(prefix, 'share/man');
    for (const [section, page] of [
      ['8', 'onionmx-milter'],
      ['5', 'onionmx-milter.yml'],
    ] as const) {
      assert.ok(existsSync(join(manpath, `man${section}`, `${page}.${section}`)), relative(prefix, join(manpath, `man${section}`)));
      const text = execFileSync('man', ['-M', manpath, section, page], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat' } });
      assert.match(text, new RegExp(`^NAME\\n {7}${page.replace('.', '\\.')} - `, 'm'));
    }
  });

  test('systemd-analyze verify passes on the unit, run against this install', { skip: needPrograms('systemd-analyze') }, () => {
    const unit = readFileSync(join(installed, 'examples/systemd/onionmx-milter.service'), 'utf8');
    assert.ok(unit.includes('/usr/local/bin/onionmx-milter'), 'the unit runs the packaged install path');
    const unitDir = join(tmp, 'unit');
    mkdirSync(unitDir);
    const path = join(unitDir, 'onionmx-milter.service');
    writeFileSync(path, unit.replaceAll('/usr/local/bin/onionmx-milter', bin));
    // verify also runs man for each Documentation=man: page: they must be the installed ones.
    const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', env: { ...process.env, MANPATH: join(prefix, 'share/man') } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.split('\n').filter((l) => l.includes('onionmx-milter')).join('\n'), '', 'systemd-analyze verify warns about the unit');
  });
});
