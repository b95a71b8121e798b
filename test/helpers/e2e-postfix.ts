// A receiving Postfix assembled from the shipped examples (examples/postfix/main.cf, master.cf,
// smtp_tor and the header-check tables), so the end-to-end suite proves that those files work as
// an operator would install them. Only ports and paths change:
// - `/etc/postfix/<table>` becomes `$config_directory/<table>`, and the table is copied from
//   examples/postfix/<table> unchanged;
// - the onion-facing smtpd `127.0.0.1:2525` gets a free port;
// - the milter sockets stay exactly as written (`unix:/onionmx/...`, relative to the queue directory
//   because smtpd and cleanup run chrooted there, as on Debian); `milterListen`/`submissionListen`
//   are the same sockets seen from outside the chroot, for the daemon's config;
// - the `smtp_tor` wrapper is installed as an operator would, into the daemon directory. So as not
//   to touch the system's /usr/lib/postfix/sbin, the instance gets its own daemon_directory: copies
//   of every system Postfix daemon (1.4 MB; symlinks make `postfix start` warn about each one) plus
//   a copy of the example wrapper. The wrapper finds `smtp` next
//   to itself, so it runs the real smtp client under the real torsocks;
// - torsocks reads a torsocks.conf whose TorPort is the test's fake Tor. Postfix's master passes
//   only the variables in import_environment to its children, so TORSOCKS_CONF_FILE is set there
//   (`NAME=value` form), which is also how an operator would point the wrapper at another file.
// Everything else (relayhost, default_transport, ...) is the caller's test setup, via `mainCf`.
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startPostfix, type PostfixInstance } from './postfix.ts';
import { requireProgram } from './system.ts';
import { removeAtProcessEnd } from './process-end.ts';
import { freePort } from './ports.ts';

const run = promisify(execFile);

export const EXAMPLES_POSTFIX = fileURLToPath(new URL('../../../examples/postfix/', import.meta.url));

export interface OnionPostfixOptions {
  /** The fake Tor's SOCKS port on 127.0.0.1: torsocks' TorPort. */
  readonly torPort: number;
  /** Test-setup parameters beside the examples' (relayhost, default_transport, ...); they win. */
  readonly mainCf?: Readonly<Record<string, string>>;
  /** Extra files for the config directory. */
  readonly files?: Readonly<Record<string, string>>;
}

export interface OnionPostfix {
  readonly pf: PostfixInstance;
  /** The examples' smtpd_milters socket as the daemon must listen on it (outside the chroot). */
  readonly milterListen: string;
  /** The examples' non_smtpd_milters socket, likewise. */
  readonly submissionListen: string;
  /** The onion-facing smtpd from master.cf (where Tor's onion service would forward to). */
  readonly onionSmtpdPort: number;
  /** The main.cf parameters taken from examples/postfix/main.cf, after path substitution. */
  readonly exampleMainCf: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startOnionPostfix(options: OnionPostfixOptions): Promise<OnionPostfix> {
  const mainText = await readFile(join(EXAMPLES_POSTFIX, 'main.cf'), 'utf8');
  const masterText = await readFile(join(EXAMPLES_POSTFIX, 'master.cf'), 'utf8');
  const exampleMainCf = Object.fromEntries(Object.entries(parseMainCf(mainText)).map(([k, v]) => [k, localPaths(v)]));
  const tables = await exampleTables(mainText + masterText);

  const onionSmtpdPort = await freePort();
  if (!masterText.includes('127.0.0.1:2525 ')) throw new Error('examples/postfix/master.cf: the onion-facing smtpd 127.0.0.1:2525 is gone; update the e2e builder');
  const masterCf = localPaths(masterText).replace('127.0.0.1:2525 ', `127.0.0.1:${onionSmtpdPort} `);

  const milterPath = chrootedUnixPath(exampleMainCf, 'smtpd_milters');
  const submissionPath = chrootedUnixPath(exampleMainCf, 'non_smtpd_milters');

  const libexec = await mkdtemp(join(tmpdir(), 'onionmx-e2e-libexec-'));
  const release = removeAtProcessEnd(libexec);
  const removeLibexec = async (): Promise<void> => {
    await rm(libexec, { recursive: true, force: true });
    release();
  };
  try {
    await chmod(libexec, 0o755);
    const systemDaemons = (await run(requireProgram('postconf', 'e2e postfix'), ['-dh', 'daemon_directory'])).stdout.trim();
    for (const name of await readdir(systemDaemons)) {
      const from = join(systemDaemons, name);
      await copyFile(from, join(libexec, name));
      await chmod(join(libexec, name), (await stat(from)).mode & 0o7777);
    }
    await copyFile(join(EXAMPLES_POSTFIX, 'smtp_tor'), join(libexec, 'smtp_tor'));
    await chmod(join(libexec, 'smtp_tor'), 0o755);
    const torsocksConf = join(libexec, 'torsocks.conf');
    await writeFile(torsocksConf, `TorAddress 127.0.0.1\nTorPort ${options.torPort}\nOnionAddrRange 127.42.42.0/24\n`, { mode: 0o644 });
    const importEnvironment = (await run(requireProgram('postconf', 'e2e postfix'), ['-dh', 'import_environment'])).stdout.trim();

    const pf = await startPostfix({
      chroot: true,
      mainCf: {
        ...exampleMainCf,
        daemon_directory: libexec,
        import_environment: `${importEnvironment} TORSOCKS_CONF_FILE=${torsocksConf}`,
        ...options.mainCf,
      },
      masterCf,
      files: { ...tables, ...options.files },
    });
    try {
      // The socket directory an operator creates inside the chroot (the daemon runs as root here).
      for (const path of [milterPath, submissionPath]) await mkdir(join(pf.queueDir, parentOf(path)), { recursive: true, mode: 0o755 });
    } catch (err) {
      await pf.stop();
      throw err;
    }
    let stopped: Promise<void> | undefined;
    return {
      pf,
      milterListen: `unix:${join(pf.queueDir, milterPath)}`,
      submissionListen: `unix:${join(pf.queueDir, submissionPath)}`,
      onionSmtpdPort,
      exampleMainCf,
      stop() {
        stopped ??= pf.stop().finally(removeLibexec);
        return stopped;
      },
    };
  } catch (err) {
    await removeLibexec();
    throw err;
  }
}

/** `key = value` lines, comments and blank lines skipped, indented continuation lines joined. */
export function parseMainCf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    if (/^\s/.test(line)) {
      if (last === undefined) throw new Error(`main.cf: continuation line without a parameter: ${line}`);
      out[last] = `${out[last] ?? ''} ${line.trim()}`;
      continue;
    }
    const match = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (match === null) throw new Error(`main.cf: not a parameter line: ${line}`);
    const [, key = '', value = ''] = match;
    out[key] = value.trim();
    last = key;
  }
  return out;
}

/** The Debian config directory in the examples becomes the instance's own. */
function localPaths(text: string): string {
  return text.replaceAll('/etc/postfix/', '$config_directory/');
}

/** Every table `type:/etc/postfix/<name>` the examples use, read from examples/postfix/<name>. */
async function exampleTables(text: string): Promise<Record<string, string>> {
  const names = new Set([...text.matchAll(/\b[a-z]+:\/etc\/postfix\/([A-Za-z0-9_.-]+)/g)].map((m) => m[1] ?? ''));
  const files: Record<string, string> = {};
  for (const name of names) files[name] = await readFile(join(EXAMPLES_POSTFIX, name), 'utf8');
  return files;
}

/** `unix:/onionmx/milter.sock` -> `onionmx/milter.sock` (relative to the queue directory). */
function chrootedUnixPath(main: Readonly<Record<string, string>>, key: string): string {
  const value = main[key];
  const match = value === undefined ? null : /^unix:\/(\S+)$/.exec(value);
  if (match?.[1] === undefined) throw new Error(`examples/postfix/main.cf: ${key} is not one unix:/path socket: ${String(value)}`);
  return match[1];
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '.' : path.slice(0, slash);
}


