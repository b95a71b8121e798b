// Gate for suites that need system packages (Postfix, miltertest, nsd, unbound, tor, ...).
// Locally a missing package is a loud skip; in CI (ONIONMX_REQUIRE_SYSTEM=1, set by .ci/run) it
// is a failure, so a broken install step can never pass as green.
import { accessSync, constants } from 'node:fs';

const SEARCH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/lib/postfix/sbin', '/usr/local/bin', '/usr/local/sbin'];

export function findProgram(name: string): string | undefined {
  if (name.includes('/')) return canRun(name) ? name : undefined;
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), ...SEARCH];
  for (const dir of dirs) {
    const path = `${dir}/${name}`;
    if (canRun(path)) return path;
  }
  return undefined;
}

function canRun(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of a program the caller cannot do without; `who` names the caller in the error. */
export function requireProgram(name: string, who: string): string {
  const path = findProgram(name);
  if (path === undefined) throw new Error(`${who}: program not found: ${name}`);
  return path;
}

/** The Debian package (of .ci/apt-packages) that provides a program, for the fix in a skip reason. */
const DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  postconf: 'postfix', postmap: 'postfix', postqueue: 'postfix', postsuper: 'postfix', postcat: 'postfix', sendmail: 'postfix',
  'smtp-sink': 'postfix', 'smtp-source': 'postfix', 'ldns-signzone': 'ldnsutils', 'ldns-keygen': 'ldnsutils', ip: 'iproute2',
  unshare: 'util-linux', script: 'bsdutils', 'apt-get': 'apt', 'dpkg-deb': 'dpkg', cc: 'gcc', promtool: 'prometheus',
};

export const systemRequired = process.env['ONIONMX_REQUIRE_SYSTEM'] === '1';

/**
 * Returns `false` when every program exists (run the suite), or a skip reason. Throws when the
 * programs are missing and CI demands them. Use as `describe(name, { skip: needPrograms(...) }, ...)`.
 */
export function needPrograms(...names: string[]): string | false {
  if (process.env['ONIONMX_SKIP_SYSTEM'] === '1' && !systemRequired) return 'ONIONMX_SKIP_SYSTEM=1 (npm run test:unit); fix: npm test runs the system suites';
  const missing = names.filter((n) => findProgram(n) === undefined);
  if (missing.length === 0) return false;
  const packages = [...new Set(missing.map((n) => DEBIAN_PACKAGE[n] ?? n))];
  const reason = `missing system programs: ${missing.join(', ')}; fix: apt-get install ${packages.join(' ')}, or run .ci/run as root (README "Real-MTA and real-DNS suites locally")`;
  if (systemRequired) throw new Error(`${reason}; ONIONMX_REQUIRE_SYSTEM=1 makes this a failure`);
  process.stderr.write(`\n*** SKIPPING: ${reason}\n\n`);
  return reason;
}

/** Root is needed for Postfix instances and network namespaces. */
export function needRoot(): string | false {
  if (process.getuid?.() === 0) return false;
  const reason = 'needs root (Postfix instances, network namespaces); fix: run the tests as root, e.g. sudo bash .ci/run';
  if (systemRequired) throw new Error(`${reason}; ONIONMX_REQUIRE_SYSTEM=1 makes this a failure`);
  process.stderr.write(`\n*** SKIPPING: ${reason}\n\n`);
  return reason;
}
