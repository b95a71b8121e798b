// The Postfix benchmark's setup: one throw-away Postfix instance with two smtpd services that differ
// only in `smtpd_milters` (one names our daemon, one is empty), our daemon (`onionmx-milter serve`)
// in its own process, and Postfix's smtp-sink as the one destination of both paths.
//
// Both paths deliver the same way: transport_maps sends the bench domain to smtp:[127.0.0.1]:<sink>,
// so smtpd accepts it (with the milter, {rcpt_mailer} is `smtp` and the recipient is looked up), and
// on the milter path milter_header_checks turns our X-Onion-Route header into FILTER
// smtp:[127.0.0.1]:<sink>: the same nexthop, so the queue manager and smtp client do the same work.
// smtp_header_checks strips the header on the way out, as the examples do.
//
// Optionally a third smtpd service uses the C libmilter filter of bench:milter (c/bench-filter.c,
// `-m rcpt-eom`: it adds `X-OnionMX-Bench: passed` at end of message, no lookup), which a
// milter_header_checks rule turns into the same FILTER: the cost of the cheapest possible tagging
// milter on the same Postfix.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostfix, type PostfixInstance } from '../helpers/postfix.ts';
import { killAllChildren, startChild, stopChild } from './child-process.ts';
import { startSmtpSink, type SmtpSink } from './postfix-sink.ts';
import { freePort } from '../helpers/ports.ts';
import { atProcessEnd } from '../helpers/process-end.ts';
import { accepts, silentDnsServer } from './daemon-probes.ts';

const DAEMON_STOP_GRACE_MS = 15_000;
export { freePort };

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A v3 onion (valid checksum) that the bench domain is pinned to; nothing ever connects to it. */
export const BENCH_ONION = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
export const BENCH_DOMAIN = 'onion-bench.example';

/** The header the C comparison filter adds, as milter_header_checks sees it. */
export const C_FILTER_HEADER = 'X-OnionMX-Bench: passed';

/** The smtpd services: with our milter, without any, with the C libmilter filter. */
export type BenchPath = 'milter' | 'plain' | 'libmilter';

/** What milter_header_checks logs for a message the path's milter tagged; undefined: none expected. */
const FILTER_LOG: Readonly<Record<BenchPath, string | undefined>> = {
  milter: 'milter-header-filter: header X-Onion-Route: smtptor:[',
  plain: undefined,
  libmilter: `milter-header-filter: header ${C_FILTER_HEADER} `,
};

export interface RigPrograms {
  readonly smtpSink: string;
  readonly postconf: string;
}

export interface RigOptions {
  /** Node flags for the daemon's process (e.g. --cpu-prof). */
  readonly daemonNodeFlags?: readonly string[];
  /** The daemon's log.level (default info, as deployed: one line per message). */
  readonly daemonLogLevel?: string;
  /** The built libmilter comparison filter; adds the `libmilter` smtpd service. */
  readonly cFilterBinary?: string;
}


export interface PostfixRig {
  readonly postfix: PostfixInstance;
  readonly sink: SmtpSink;
  /** smtpd ports: with our milter, without a milter, with the C filter (when asked for). */
  readonly ports: { readonly milter: number; readonly plain: number; readonly libmilter?: number };
  readonly daemonPid: number;
  /** The Postfix master: its process group holds every Postfix process of the instance. */
  readonly postfixMasterPid: number;
  readonly cFilterPid?: number;
  /** DNS queries the daemon sent to its (silent) loopback DNS server: pinned domains need none. */
  dnsQueries(): number;
  daemonLog(): string;
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
const leftovers = new Set<string>();
let hookRegistered = false;

export async function startRig(programs: RigPrograms, options: RigOptions = {}): Promise<PostfixRig> {
  installHooks();
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-bench-postfix-'));
  leftovers.add(dir);
  chmodSync(dir, 0o755); // smtpd (user postfix) must reach the milter socket in here
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
    closers.length = 0;
    rmSync(dir, { recursive: true, force: true });
    leftovers.delete(dir);
  };
  try {
    const mailOwner = execFileSync(programs.postconf, ['-dh', 'mail_owner'], { encoding: 'utf8' }).trim();
    const mailGroup = execFileSync('id', ['-gn', mailOwner], { encoding: 'utf8' }).trim();

    const dns = await silentDnsServer();
    closers.push(() => new Promise<void>((resolve) => dns.socket.close(() => {
      resolve();
    })));

    const sink = await startSmtpSink(programs.smtpSink, await freePort(), mailOwner, track);
    closers.push(() => sink.stop());

    const socket = join(dir, 'milter.sock');
    const daemon = await startDaemon(dir, {
      socket,
      group: mailGroup,
      dnsPort: dns.port,
      logLevel: options.daemonLogLevel ?? 'info',
      nodeFlags: options.daemonNodeFlags ?? [],
    });
    // A long grace: the daemon drains and, under --cpu-prof, writes its profile.
    closers.push(() => stopChild(daemon.child, DAEMON_STOP_GRACE_MS));

    const cSocket = join(dir, 'libmilter.sock');
    let cFilterPid: number | undefined;
    if (options.cFilterBinary !== undefined) {
      const c = await startChild(options.cFilterBinary, ['-p', `unix:${cSocket}`, '-m', 'rcpt-eom']);
      closers.push(() => stopChild(c.child));
      cFilterPid = c.pid;
      chmodSync(cSocket, 0o666); // libmilter creates it under our umask; smtpd runs as the mail owner
    }

    const ports = {
      milter: await freePort(),
      plain: await freePort(),
      ...(options.cFilterBinary === undefined ? {} : { libmilter: await freePort() }),
    };
    const nexthop = `smtp:[127.0.0.1]:${sink.port}`;
    const [cHeaderName, cHeaderValue] = C_FILTER_HEADER.split(': ');
    const postfix = await startPostfix({
      files: {
        transport: `${BENCH_DOMAIN} ${nexthop}\n`,
        milter_header_checks:
          `/^X-Onion-Route:\\s*smtptor:\\[([a-z2-7]{56}\\.onion)\\]:([0-9]{1,5})\\s*$/ FILTER ${nexthop}\n` +
          `/^${cHeaderName ?? ''}:\\s*${cHeaderValue ?? ''}$/ FILTER ${nexthop}\n`,
        smtp_header_checks: `/^X-Onion-Route:/ IGNORE\n/^${cHeaderName ?? ''}:/ IGNORE\n`,
      },
      mainCf: {
        transport_maps: 'texthash:$config_directory/transport',
        milter_header_checks: 'pcre:$config_directory/milter_header_checks',
        smtp_header_checks: 'pcre:$config_directory/smtp_header_checks',
        milter_default_action: 'tempfail',
        milter_protocol: '6',
      },
      masterCf: [
        `127.0.0.1:${ports.milter} inet n - n - - smtpd -o smtpd_milters=unix:${socket}`,
        `127.0.0.1:${ports.plain} inet n - n - - smtpd -o smtpd_milters=`,
        ...(ports.libmilter === undefined ? [] : [`127.0.0.1:${ports.libmilter} inet n - n - - smtpd -o smtpd_milters=unix:${cSocket}`]),
      ].join('\n'),
    });
    closers.push(() => postfix.stop());
    const postfixMasterPid = Number(readFileSync(join(postfix.queueDir, 'pid', 'master.pid'), 'utf8').trim());

    return {
      postfix,
      sink,
      ports,
      daemonPid: daemon.pid,
      postfixMasterPid,
      ...(cFilterPid === undefined ? {} : { cFilterPid }),
      dnsQueries: () => dns.queries(),
      daemonLog: () => readFileSync(daemon.logFile, 'utf8'),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface DaemonSettings {
  readonly socket: string;
  readonly group: string;
  readonly dnsPort: number;
  readonly logLevel: string;
  readonly nodeFlags: readonly string[];
  /** More top-level config sections (YAML), e.g. `relay:` and `tor:`. */
  readonly extraConfig?: string;
}

/**
 * `onionmx-milter serve` with its files in `dir`: the bench domain pinned to BENCH_ONION (plus
 * `extraPins`), DNS to a silent loopback server, log to dir/daemon.log; resolves once the milter
 * socket accepts. Killed at process end like every process of the rig.
 */
export async function startDaemon(
  dir: string,
  s: DaemonSettings,
  extraPins: readonly string[] = [],
): Promise<{ child: ChildProcess; pid: number; logFile: string }> {
  installHooks();
  const pins = join(dir, 'pins.yml');
  const config = join(dir, 'config.yml');
  const logFile = join(dir, 'daemon.log');
  writeFileSync(pins, [BENCH_DOMAIN, ...extraPins].map((domain) => `${domain}: ${BENCH_ONION}\n`).join(''));
  writeFileSync(
    config,
    [
      'milter:',
      `  listen: unix:${s.socket}`,
      '  socket_mode: "0660"',
      `  socket_group: ${s.group}`,
      `maps: [${pins}]`,
      'bundled_map: false',
      // The rig's milter_header_checks match smtptor:[<onion>]:25 (its FILTER picks the path).
      'header:',
      '  transport: smtptor',
      'dns:',
      `  servers: ["127.0.0.1:${s.dnsPort}"]`,
      'log:',
      `  level: ${s.logLevel}`,
      s.extraConfig ?? '',
    ].join('\n'),
  );
  // The daemon logs to a file, as it would to journald: one JSON line per message at info.
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...s.nodeFlags, CLI, 'serve', '--config', config, '--grace', '5', '--allow-root'], {
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  track(child);
  // Ready when the milter socket accepts a connection (the start-up log line is at info, which
  // --log-level may hide).
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`onionmx-milter serve exited at start:\n${readFileSync(logFile, 'utf8')}`);
    }
    if (await accepts(s.socket)) break;
    if (Date.now() > deadline) {
      await stopChild(child, DAEMON_STOP_GRACE_MS);
      throw new Error(`onionmx-milter serve did not start within 15 s:\n${readFileSync(logFile, 'utf8')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (child.pid === undefined) throw new Error('onionmx-milter serve has no pid');
  return { child, pid: child.pid, logFile };
}

/**
 * The premise of the comparison, checked after the clock stopped: every message of a milter path
 * was tagged by its milter and routed by milter_header_checks FILTER; none on the plain path; no
 * milter trouble logged; the queue is empty again.
 */
export async function verifyBurst(rig: PostfixRig, path: BenchPath, mark: number, messages: number): Promise<void> {
  await rig.postfix.waitForEmptyQueue({ timeoutMs: 60_000 });
  // postlogd writes the log a little after the fact: wait (bounded) for every delivery's line.
  const deadline = Date.now() + 30_000;
  let text = '';
  for (;;) {
    text = (await readFile(rig.postfix.logFile)).subarray(mark).toString('utf8');
    if (count(text, 'status=sent') >= messages) break;
    if (Date.now() > deadline) throw new Error(`${path}: ${count(text, 'status=sent')} status=sent lines in the Postfix log, expected ${messages}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const tagged = count(text, 'milter-header-filter: header ');
  const expected = FILTER_LOG[path] === undefined ? 0 : messages;
  const ours = FILTER_LOG[path] === undefined ? tagged : count(text, FILTER_LOG[path]);
  if (tagged !== expected || ours !== expected) throw new Error(`${path}: ${ours} of ${tagged} FILTER-routed messages tagged as expected, expected ${expected}`);
  const milterWarning = /warning: [^\n]*milter[^\n]*/i.exec(text);
  if (milterWarning !== null) throw new Error(`${path}: Postfix logged: ${milterWarning[0]}`);
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** A port that was free a moment ago (bound to port 0 and closed); the caller binds it soon after. */

/** Kills `child` at process end unless it has exited by then. */
export function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

function installHooks(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  atProcessEnd(killEverything);
}

function killEverything(): void {
  killAllChildren();
  for (const child of running) child.kill('SIGKILL');
  running.clear();
  for (const dir of leftovers) rmSync(dir, { recursive: true, force: true });
  leftovers.clear();
}
