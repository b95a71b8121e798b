// A receiving Postfix assembled from the shipped examples (examples/postfix/main.cf, master.cf and
// the header-check tables), so the end-to-end suites prove that those files work as an operator
// would install them. Only ports and paths change:
// - `/etc/postfix/<table>` becomes `$config_directory/<table>`, and the table is copied from
//   examples/postfix/<table> unchanged;
// - the onion-facing smtpd `127.0.0.1:2525` gets a free port;
// - the milter sockets and the relay's socket stay exactly as written (`unix:/onionmx/...`, relative
//   to the queue directory because smtpd, cleanup and the onionrelay lmtp client run chrooted there,
//   as on Debian); `milterListen`, `submissionListen` and `relayListen` are the same sockets seen
//   from outside the chroot, for the daemon's config. Onion mail leaves through the `onionrelay`
//   lmtp transport to the daemon's relay: no torsocks, no wrapper in the daemon directory.
// Everything else (relayhost, default_transport, ...) is the caller's test setup, via `mainCf`.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostfix, type PostfixInstance } from './postfix.ts';
import { freePort } from './ports.ts';
import type { TransactionResult } from './smtp-client.ts';

export const EXAMPLES_POSTFIX = fileURLToPath(new URL('../../../examples/postfix/', import.meta.url));

export interface OnionPostfixOptions {
  /** Test-setup parameters beside the examples' (relayhost, default_transport, ...); they win. */
  readonly mainCf?: Readonly<Record<string, string>>;
  /** Test-setup master.cf services after the examples' (e.g. a second smtpd). */
  readonly masterCf?: string;
  /** Extra files for the config directory. */
  readonly files?: Readonly<Record<string, string>>;
}

export interface OnionPostfix {
  readonly pf: PostfixInstance;
  /** The examples' smtpd_milters socket as the daemon must listen on it (outside the chroot). */
  readonly milterListen: string;
  /** The examples' non_smtpd_milters socket, likewise. */
  readonly submissionListen: string;
  /** The relay socket the FILTER of onion_milter_header_checks names, likewise (the daemon's relay.listen). */
  readonly relayListen: string;
  /** The onion-facing smtpd from master.cf (where Tor's onion service would forward to). */
  readonly onionSmtpdPort: number;
  /** The main.cf parameters taken from examples/postfix/main.cf, after path substitution. */
  readonly exampleMainCf: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startOnionPostfix(options: OnionPostfixOptions = {}): Promise<OnionPostfix> {
  const mainText = await readFile(join(EXAMPLES_POSTFIX, 'main.cf'), 'utf8');
  const masterText = await readFile(join(EXAMPLES_POSTFIX, 'master.cf'), 'utf8');
  const exampleMainCf = Object.fromEntries(Object.entries(parseMainCf(mainText)).map(([k, v]) => [k, localPaths(v)]));
  const tables = await exampleTables(mainText + masterText);

  const onionSmtpdPort = await freePort();
  if (!masterText.includes('127.0.0.1:2525 ')) throw new Error('examples/postfix/master.cf: the onion-facing smtpd 127.0.0.1:2525 is gone; update the e2e builder');
  const masterCf = localPaths(masterText).replace('127.0.0.1:2525 ', `127.0.0.1:${onionSmtpdPort} `) + (options.masterCf === undefined ? '' : `\n${options.masterCf}\n`);

  const milterPath = chrootedUnixPath(exampleMainCf['smtpd_milters'], 'main.cf smtpd_milters');
  const submissionPath = chrootedUnixPath(exampleMainCf['non_smtpd_milters'], 'main.cf non_smtpd_milters');
  const relayPath = chrootedUnixPath(/\sFILTER onionrelay:(\S+)$/m.exec(tables['onion_milter_header_checks'] ?? '')?.[1], 'onion_milter_header_checks FILTER');

  const pf = await startPostfix({
    chroot: true,
    mainCf: { ...exampleMainCf, ...options.mainCf },
    masterCf,
    files: { ...tables, ...options.files },
  });
  try {
    // The socket directory an operator creates inside the chroot (the daemon runs as root here).
    for (const path of [milterPath, submissionPath, relayPath]) await mkdir(join(pf.queueDir, parentOf(path)), { recursive: true, mode: 0o755 });
  } catch (err) {
    await pf.stop();
    throw err;
  }
  return {
    pf,
    milterListen: `unix:${join(pf.queueDir, milterPath)}`,
    submissionListen: `unix:${join(pf.queueDir, submissionPath)}`,
    relayListen: `unix:${join(pf.queueDir, relayPath)}`,
    onionSmtpdPort,
    exampleMainCf,
    stop: () => pf.stop(),
  };
}

/** The queue id in Postfix's 250 to the final dot (asserting the message was queued). */
export function queueIdOf(result: TransactionResult): string {
  assert.equal(result.data?.code, 250, result.data?.raw ?? JSON.stringify(result.rcpts));
  const id = /queued as ([0-9A-Za-z]+)/.exec(result.data.raw)?.[1];
  assert.ok(id !== undefined, result.data.raw);
  return id;
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
export function localPaths(text: string): string {
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
function chrootedUnixPath(value: string | undefined, where: string): string {
  const match = value === undefined ? null : /^unix:\/(\S+)$/.exec(value);
  if (match?.[1] === undefined) throw new Error(`examples/postfix: ${where} is not one unix:/path socket: ${String(value)}`);
  return match[1];
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '.' : path.slice(0, slash);
}


