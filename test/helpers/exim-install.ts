// Exim (and, through unpackDebs, Sendmail) for the real-MTA suites, WITHOUT installing them as the
// system MTA: both conflict with Postfix, and `apt-get install exim4` would remove it. Instead the
// .debs are fetched with `apt-get download` and unpacked with `dpkg-deb -x` into a stable cache
// dir (CACHE_ROOT/<package>), once; later runs reuse them. The shared libraries they need
// (libidn12 for Exim, libwrap0 for Sendmail) and m4 are ordinary packages in .ci/apt-packages.
//
// `apt-get download` needs package lists; a fresh CI machine whose packages were all installed
// already has none (.ci/run only updates when something is missing), so a failed download is
// retried once after `apt-get update`.
//
// Everything here is synchronous: gating runs at module load, before `describe`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemRequired } from './system.ts';

export const CACHE_ROOT = '/var/cache/onionmx-test';
const EXIM_PACKAGES = ['exim4-base', 'exim4-daemon-light'] as const;
export const EXIM_USER = 'Debian-exim';

let updated = false;

function aptDownload(pkg: string, dir: string): void {
  const download = (): void => {
    execFileSync('apt-get', ['download', '-q', pkg], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  try {
    download();
  } catch (err) {
    if (updated) throw err;
    execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'pipe'] });
    updated = true;
    download();
  }
}

/**
 * Unpacks each package into CACHE_ROOT/<package> (cached: a `.unpacked` stamp marks a finished
 * unpack) and returns CACHE_ROOT/<package> for each. Throws when a download or unpack fails.
 */
export function unpackDebs(packages: readonly string[]): string[] {
  mkdirSync(CACHE_ROOT, { recursive: true });
  return packages.map((pkg) => {
    const root = join(CACHE_ROOT, pkg);
    if (existsSync(join(root, '.unpacked'))) return root;
    const work = join(CACHE_ROOT, `.${pkg}.${String(process.pid)}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    // apt's _apt sandbox user cannot write into a root-only dir; downloading as root is fine here.
    aptDownload(pkg, work);
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (deb === undefined) throw new Error(`apt-get download ${pkg}: no .deb appeared`);
    const tree = join(work, 'tree');
    execFileSync('dpkg-deb', ['-x', join(work, deb), tree]);
    writeFileSync(join(tree, '.unpacked'), `${deb}\n`);
    rmSync(root, { recursive: true, force: true });
    renameSync(tree, root);
    rmSync(work, { recursive: true, force: true });
    return root;
  });
}

/** Creates a system user (and its group) unless it exists. */
export function ensureSystemUser(name: string): void {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return;
  } catch {
    // missing: create below
  }
  execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** The unpacked Exim binary (`exim4 -bV` must work: libidn12 installed, Debian-exim user present). */
export function eximBinary(): string {
  const [, daemon] = unpackDebs(EXIM_PACKAGES);
  if (daemon === undefined) throw new Error('exim4-daemon-light not unpacked');
  ensureSystemUser(EXIM_USER);
  const bin = join(daemon, 'usr/sbin/exim4');
  execFileSync(bin, ['-C', '/dev/null', '-bV'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return bin;
}

/**
 * For `describe(..., { skip })`: runs `setup`; returns false when it worked, else a skip reason
 * (locally a loud skip, in CI a thrown failure, as needPrograms does).
 */
export function needSetup(what: string, setup: () => void): string | false {
  try {
    setup();
    return false;
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n').slice(0, 3).join(' | ') : String(err);
    const reason = `cannot set up ${what}: ${detail}`;
    if (systemRequired) throw new Error(`${reason}; ONIONMX_REQUIRE_SYSTEM=1 makes this a failure`, { cause: err });
    process.stderr.write(`\n*** SKIPPING: ${reason}\n\n`);
    return reason;
  }
}
