// Throw-away Postfix instances for the real-MTA suites.
//
// How an instance is set up (as root; Postfix 3.4+ for maillog_file, tested with 3.7):
// - Everything lives in one temp dir ROOT = $TMPDIR/onionmx-postfix-XXXXXX (mode 0755 so the
//   `postfix` user can traverse it): ROOT/config (main.cf, master.cf, any extra files such as
//   header-check tables), ROOT/queue (queue_directory, root-owned 0755; `postfix start` creates
//   the queue subdirectories itself via `post-install create-missing`), ROOT/data (data_directory,
//   must be owned by the mail owner or the master cannot create master.lock), ROOT/maillog.
// - Started with `postfix -c ROOT/config start`. That runs `master -w`, which returns only after
//   the master has bound its listeners, so start-up needs no polling. The master is a session
//   leader; its pid is in ROOT/queue/pid/master.pid. Stop sends SIGTERM to that process group
//   (the master forwards it to its children too), waits for the group to be empty (SIGKILL after a
//   bound) and deletes ROOT. An exit hook SIGKILLs every instance still running if the test
//   process dies without stopping them.
// - No change to the system Postfix configuration is needed: as root, `postfix -c DIR`,
//   `sendmail -C DIR` and `postqueue -c DIR` accept an unlisted config directory (the
//   alternate_config_directories check applies only to non-root callers). Several instances run
//   side by side because each has its own queue_directory, data_directory (master.lock) and port.
// - Logging: `maillog_file = ROOT/maillog` plus the `postlog unix-dgram ... postlogd` service in
//   master.cf. Surprise: maillog_file must start with one of `maillog_file_prefixes` (default
//   `/var, /dev/stdout`), so the instance sets `maillog_file_prefixes = ROOT`.
// - Network: `inet_interfaces = 127.0.0.1`, `inet_protocols = ipv4`, smtpd on `127.0.0.1:<free
//   port>` in master.cf, `smtp_dns_support_level = disabled` (no DNS; nexthops are `[127.0.0.1]:port`),
//   `smtpd_peername_lookup = no`. `mydestination` and all local maps are empty (nothing is
//   delivered locally); `default_transport = error:...` so mail without an explicit route bounces
//   instead of leaving the machine. Tests route with `relayhost`/`transport_maps` to an SMTP sink.
// - master.cf holds only the services needed: smtpd, pickup, cleanup, qmgr, trivial-rewrite,
//   bounce/defer/trace, verify, flush, proxymap, smtp/relay, showq, error/retry, discard, anvil,
//   scache, postlog. Everything runs unchrooted, except smtpd and cleanup when `chroot: true`
//   (then a `unix:` milter path is relative to ROOT/queue, as on a stock Debian install).
// - Speed: in_flow_delay 0, smtpd_error_sleep_time 0, queue_run_delay/minimal_backoff_time 1s.
// - Parameter values may use Postfix's own `$name` expansion, e.g.
//   `milter_header_checks = regexp:$config_directory/milter_header_checks`.
// - `reload()` is asynchronous in Postfix: daemons already running keep their old settings until
//   they exit, so suites should start one instance per configuration rather than reload.
// - Chrooted smtpd/cleanup work without copying /etc files into the queue directory because no
//   name lookups happen (smtpd_peername_lookup = no, numeric nexthops).
// - Cost: `postfix start` takes about 0.2 s on an idle machine (mostly `post-install
//   create-missing` and `postsuper`), 1-3 s when the machine is busy; stop is 0-1 s.
//
// Observed Postfix 3.7 behaviour the suites rely on (and that surprised us):
// - smtpd refuses at RCPT (550) a recipient that would resolve to the error transport, so unrouted
//   test mail never gets queued.
// - With the filter unreachable and milter_default_action = tempfail, smtpd logs `warning: connect
//   to Milter service ...`, still answers EHLO with 250 (smtpd_delay_reject), and answers MAIL with
//   `451 4.7.1 Service unavailable - try again later`.
// - A filter's per-recipient reply is passed through verbatim (`550 5.7.1 <text>`) and logged as
//   `milter-reject: RCPT ...`; a milter_header_checks FILTER is logged by cleanup as
//   `milter-header-filter: header X-...: yes ...: smtp:[127.0.0.1]:port` and applies to every
//   recipient of the message.
// - Mail submitted with sendmail reaches non_smtpd_milters from cleanup as a connection from
//   `localhost[127.0.0.1]`, with bracket-less envelope addresses.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram } from './system.ts';
import { freePort } from './ports.ts';
import { atProcessEnd } from './process-end.ts';

export interface PostfixOptions {
  /** Extra or overriding main.cf parameters. */
  readonly mainCf?: Readonly<Record<string, string>>;
  /** Extra master.cf lines, appended after the built-in services. */
  readonly masterCf?: string;
  /** Files written into the config directory before start: file name -> content. */
  readonly files?: Readonly<Record<string, string>>;
  /** Run smtpd and cleanup chrooted into the queue directory (Debian's default for them). */
  readonly chroot?: boolean;
}

export interface QueueEntry {
  readonly queueId: string;
  readonly queueName: string;
  readonly sender: string;
  readonly recipients: readonly { readonly address: string; readonly delayReason?: string }[];
}

export interface WaitOptions {
  /** Failure bound, not an expectation. */
  readonly timeoutMs?: number;
  /** Only look at log text after this offset (from `logMark()`). */
  readonly since?: number;
}

export interface PostfixInstance {
  readonly smtpPort: number;
  /** The temp dir holding everything of this instance. */
  readonly root: string;
  readonly configDir: string;
  readonly queueDir: string;
  readonly logFile: string;
  log(): Promise<string>;
  /** The current end of the log, to wait only for lines written after it. */
  logMark(): Promise<number>;
  waitForLog(pattern: RegExp, options?: WaitOptions): Promise<RegExpExecArray>;
  /** Runs `postconf -c <configDir> ...args` and returns stdout. */
  postconf(...args: string[]): Promise<string>;
  reload(): Promise<void>;
  /** Submits through Postfix's `sendmail -C <configDir> -i ...args`, message on stdin. */
  sendmail(args: readonly string[], message: string): Promise<void>;
  /** `postqueue -f`: attempt delivery of all queued mail now. */
  flush(): Promise<void>;
  queue(): Promise<QueueEntry[]>;
  waitForEmptyQueue(options?: WaitOptions): Promise<void>;
  /** Idempotent; kills every process of the instance and removes its files. */
  stop(): Promise<void>;
}

const POLL_MS = 25;
const DEFAULT_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

const running = new Set<number>();
const leftovers = new Set<string>();
let hookRegistered = false;

export async function startPostfix(options: PostfixOptions = {}): Promise<PostfixInstance> {
  const programs = {
    postfix: requireProgram('postfix', 'postfix harness'),
    postconf: requireProgram('postconf', 'postfix harness'),
    postqueue: requireProgram('postqueue', 'postfix harness'),
    sendmail: requireProgram('sendmail', 'postfix harness'),
  };
  installExitHook();
  const root = await mkdtemp(join(tmpdir(), 'onionmx-postfix-'));
  leftovers.add(root);
  try {
    return await startIn(root, options, programs);
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    leftovers.delete(root);
    throw err;
  }
}

type Programs = Record<'postfix' | 'postconf' | 'postqueue' | 'sendmail', string>;

async function startIn(root: string, options: PostfixOptions, programs: Programs): Promise<PostfixInstance> {
  const configDir = join(root, 'config');
  const queueDir = join(root, 'queue');
  const dataDir = join(root, 'data');
  const logFile = join(root, 'maillog');
  await chmod(root, 0o755);
  await mkdir(configDir, { mode: 0o755 });
  await mkdir(queueDir, { mode: 0o755 });
  await mkdir(dataDir, { mode: 0o700 });
  const mailOwner = (await run(programs.postconf, ['-dh', 'mail_owner'])).trim();
  await run('chown', [mailOwner, dataDir]);
  for (const [name, content] of Object.entries(options.files ?? {})) {
    if (name.includes('/')) throw new Error(`startPostfix: file name must not contain '/': ${name}`);
    await writeFile(join(configDir, name), content);
  }
  const compatibility = await compatibilityLevel(programs.postconf);

  // A port picked by binding port 0 can be taken by someone else before the master binds it;
  // `postfix start` then fails with a bind error and we try another one.
  let smtpPort = 0;
  for (let attempt = 1; ; attempt++) {
    smtpPort = await freePort();
    const main: Record<string, string> = {
      ...baseMainCf({ root, queueDir, dataDir, logFile, compatibility }),
      ...options.mainCf,
    };
    await writeFile(join(configDir, 'main.cf'), Object.entries(main).map(([k, v]) => `${k} = ${v}\n`).join(''));
    await writeFile(join(configDir, 'master.cf'), masterCf(smtpPort, options.chroot === true) + (options.masterCf ?? '') + '\n');
    const started = await runStatus(programs.postfix, ['-c', configDir, 'start']);
    if (started.code === 0) break;
    const log = await readFile(logFile, 'utf8').catch(() => '');
    if (attempt < 3 && /bind .* port \d+: Address already in use/.test(log)) continue;
    throw new Error(`postfix start failed (exit ${started.code}): ${started.stderr}\n--- maillog ---\n${log}`);
  }
  const pid = Number((await readFile(join(queueDir, 'pid', 'master.pid'), 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`postfix: bad master.pid in ${queueDir}`);
  running.add(pid);

  const log = (): Promise<string> => readFile(logFile, 'utf8').catch(() => '');
  let stopped: Promise<void> | undefined;

  const instance: PostfixInstance = {
    smtpPort,
    root,
    configDir,
    queueDir,
    logFile,
    log,
    logMark: async () => (await stat(logFile).catch(() => ({ size: 0 }))).size,
    async waitForLog(pattern, waitOptions = {}) {
      const since = waitOptions.since ?? 0;
      let text = '';
      const found = await pollUntil(async () => {
        text = (await readFile(logFile)).subarray(since).toString('utf8');
        return new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(text) ?? undefined;
      }, waitOptions.timeoutMs);
      if (found === undefined) throw new Error(`postfix log: no match for ${String(pattern)}\n--- maillog ---\n${text}`);
      return found;
    },
    postconf: (...args) => run(programs.postconf, ['-c', configDir, ...args]),
    async reload() {
      await run(programs.postfix, ['-c', configDir, 'reload']);
    },
    async sendmail(args, message) {
      await run(programs.sendmail, ['-C', configDir, '-i', ...args], message);
    },
    async flush() {
      await run(programs.postqueue, ['-c', configDir, '-f']);
    },
    async queue() {
      return parseQueue(await run(programs.postqueue, ['-c', configDir, '-j']));
    },
    async waitForEmptyQueue(waitOptions = {}) {
      let last: QueueEntry[] = [];
      const empty = await pollUntil(async () => {
        last = await instance.queue();
        return last.length === 0 ? true : undefined;
      }, waitOptions.timeoutMs);
      if (empty === undefined) throw new Error(`postfix queue not empty: ${JSON.stringify(last)}\n--- maillog ---\n${await log()}`);
    },
    stop() {
      stopped ??= (async () => {
        await killGroup(pid);
        running.delete(pid);
        if (process.env['ONIONMX_KEEP_POSTFIX'] !== '1') await rm(root, { recursive: true, force: true });
        leftovers.delete(root);
      })();
      return stopped;
    },
  };
  return instance;
}

/** The `smtp:` nexthop of a local SMTP sink, for transport_maps, relayhost or FILTER. */
export function sinkNexthop(port: number): string {
  return `[127.0.0.1]:${port}`;
}

function baseMainCf(p: { root: string; queueDir: string; dataDir: string; logFile: string; compatibility: string }): Record<string, string> {
  return {
    compatibility_level: p.compatibility,
    queue_directory: p.queueDir,
    data_directory: p.dataDir,
    maillog_file: p.logFile,
    maillog_file_prefixes: p.root,
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    myhostname: 'postfix.test',
    mydomain: 'postfix.test',
    myorigin: '$myhostname',
    mydestination: '',
    mynetworks: '127.0.0.0/8',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    relayhost: '',
    relay_domains: '',
    default_transport: 'error:5.3.0 no route in this test instance',
    smtp_dns_support_level: 'disabled',
    smtpd_peername_lookup: 'no',
    biff: 'no',
    append_dot_mydomain: 'no',
    in_flow_delay: '0',
    smtpd_error_sleep_time: '0',
    queue_run_delay: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '2s',
  };
}

function masterCf(port: number, chroot: boolean): string {
  const c = chroot ? 'y' : 'n';
  return [
    `127.0.0.1:${port} inet n - ${c} - - smtpd`,
    'pickup    unix  n - n 60 1 pickup',
    `cleanup   unix  n - ${c} - 0 cleanup`,
    'qmgr      unix  n - n 300 1 qmgr',
    'rewrite   unix  - - n - - trivial-rewrite',
    'bounce    unix  - - n - 0 bounce',
    'defer     unix  - - n - 0 bounce',
    'trace     unix  - - n - 0 bounce',
    'verify    unix  - - n - 1 verify',
    'flush     unix  n - n 1000? 0 flush',
    'proxymap  unix  - - n - - proxymap',
    'proxywrite unix - - n - 1 proxymap',
    'smtp      unix  - - n - - smtp',
    'relay     unix  - - n - - smtp',
    'showq     unix  n - n - - showq',
    'error     unix  - - n - - error',
    'retry     unix  - - n - - error',
    'discard   unix  - - n - - discard',
    'anvil     unix  - - n - 1 anvil',
    'scache    unix  - - n - 1 scache',
    'postlog   unix-dgram n - n - 1 postlogd',
    '',
  ].join('\n');
}

async function compatibilityLevel(postconf: string): Promise<string> {
  const version = (await run(postconf, ['-dh', 'mail_version'])).trim();
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 3 || (major === 3 && minor >= 6) ? '3.6' : '2';
}

function parseQueue(stdout: string): QueueEntry[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const raw = JSON.parse(line) as {
        queue_id: string;
        queue_name: string;
        sender: string;
        recipients: { address: string; delay_reason?: string }[];
      };
      return {
        queueId: raw.queue_id,
        queueName: raw.queue_name,
        sender: raw.sender,
        recipients: raw.recipients.map((r) =>
          r.delay_reason === undefined ? { address: r.address } : { address: r.address, delayReason: r.delay_reason },
        ),
      };
    });
}



/** Polls `probe` until it returns a value, or gives up after the bound and returns undefined. */
async function pollUntil<T>(probe: () => Promise<T | undefined>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function killGroup(pgid: number): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  const gone = await pollUntil(() => Promise.resolve(liveProcessesInGroup(pgid) === 0 ? true : undefined), STOP_TIMEOUT_MS);
  if (gone === undefined) signalGroup(pgid, 'SIGKILL');
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Live (non-zombie) processes in a process group, from /proc. */
export function liveProcessesInGroup(pgid: number): number {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const statLine = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command: state ppid pgrp ...
      const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') count++;
    } catch {
      // The process exited while we looked.
    }
  }
  return count;
}

function installExitHook(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  atProcessEnd(killEverything);
}

function killEverything(): void {
  for (const pid of running) signalGroup(pid, 'SIGKILL');
  running.clear();
  if (process.env['ONIONMX_KEEP_POSTFIX'] === '1') return;
  for (const root of leftovers) rmSync(root, { recursive: true, force: true });
  leftovers.clear();
}

function run(file: string, args: readonly string[], input?: string): Promise<string> {
  return runStatus(file, args, input).then((r) => {
    if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  });
}

function runStatus(file: string, args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  if (input === undefined) {
    return new Promise((resolve) => {
      execFile(file, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      });
    });
  }
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.on('error', () => {
      // EPIPE when the program exits early; its exit status tells what went wrong.
    });
    child.stdin.end(input);
  });
}
