// `onionmx-milter serve` as a child process for the end-to-end suites, configured from the shipped
// examples/config.yml with only what a test must change: socket paths, DNS servers, map files, the
// SOCKS port (plus `dns.dnssec` when the suite's DNS is an unsigned authoritative server). The JSON
// log on stdout is collected so tests can wait for a line (event driven, bounded).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { CLI } from '../cli/cli-helpers.ts';
import { atProcessEnd } from './process-end.ts';

export const EXAMPLE_CONFIG = fileURLToPath(new URL('../../../examples/config.yml', import.meta.url));
const UNIT = fileURLToPath(new URL('../../../examples/systemd/onionmx-milter.service', import.meta.url));

/** The node flags the shipped systemd unit starts the daemon with (its ExecStart names node). */
export function unitNodeFlags(): string[] {
  const start = /^ExecStart=\/usr\/bin\/env node((?: --\S+)*) \/usr\/local\/bin\/onionmx-milter serve /m.exec(readFileSync(UNIT, 'utf8'));
  if (start === null) throw new Error(`${UNIT}: no ExecStart=/usr/bin/env node [flags] /usr/local/bin/onionmx-milter serve`);
  return (start[1] ?? '').trim().split(/\s+/).filter((f) => f !== '');
}

type Yaml = Record<string, unknown>;

/** Overrides, by dotted key path: `{ 'milter.listen': 'unix:/x', 'dns.servers': [...] }`. */
export type ConfigOverrides = Readonly<Record<string, unknown>>;

/** examples/config.yml with the overrides applied, as YAML text. */
export function exampleConfig(overrides: ConfigOverrides): string {
  const config = yaml.load(readFileSync(EXAMPLE_CONFIG, 'utf8')) as Yaml;
  // The suites run the daemon as whoever runs them (startDaemon passes --allow-root), not as the
  // example's system user, which a test machine need not have.
  config['user'] = null;
  // Nor can it bind the example's relay socket inside Postfix's spool: a suite that delivers
  // through the relay names its own relay.listen.
  const relay = config['relay'];
  if (typeof relay === 'object' && relay !== null) (relay as Yaml)['listen'] = null;
  for (const [path, value] of Object.entries(overrides)) {
    const keys = path.split('.');
    const last = keys.pop();
    if (last === undefined) continue;
    let node = config;
    for (const key of keys) {
      // A section whose keys are all commented out (`metrics:`) loads as null: fill it in.
      if (node[key] === null) node[key] = {};
      const next = node[key];
      if (typeof next !== 'object' || next === null) throw new Error(`examples/config.yml has no section ${path}`);
      node = next as Yaml;
    }
    node[last] = value;
  }
  return yaml.dump(config);
}

export interface LogLine extends Record<string, unknown> {
  readonly msg?: string;
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly lines: readonly LogLine[];
  /** The log's current length, to wait only for lines after it. */
  mark(): number;
  /** Resolves with the first line (from `since` on) whose msg matches and that passes `where`. */
  waitFor(msg: RegExp, options?: { readonly since?: number; readonly where?: (l: LogLine) => boolean; readonly timeoutMs?: number }): Promise<LogLine>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL if still running (cleanup after failures). */
  kill(): Promise<void>;
}

const WAIT_MS = 15_000;

export interface StartDaemonOptions {
  /**
   * The command that runs the CLI; e.g. an installed bin. Default: this checkout's, under this node
   * with the unit's node flags, so the suites measure the daemon as the unit runs it (memory above all).
   */
  readonly command?: readonly string[];
  /** Pass --allow-root (default true: the suites run the daemon as whoever runs them). */
  readonly allowRoot?: boolean;
  /** Start it as this user and group, as a service manager's User= and Group= would. */
  readonly uid?: number;
  readonly gid?: number;
}

/** Starts the daemon with the config file at `configPath` and waits for "onionmx-milter started". */
export async function startDaemon(configPath: string, options: StartDaemonOptions = {}): Promise<DaemonProcess> {
  const [program, ...prefix] = options.command ?? [process.execPath, ...unitNodeFlags(), CLI];
  if (program === undefined) throw new Error('startDaemon: empty command');
  const args = [...prefix, 'serve', '--config', configPath, '--grace', '2', ...(options.allowRoot === false ? [] : ['--allow-root'])];
  const ids = { ...(options.uid === undefined ? {} : { uid: options.uid }), ...(options.gid === undefined ? {} : { gid: options.gid }) };
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], ...ids });
  const release = atProcessEnd(() => child.kill('SIGKILL'));
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ msg: `(not JSON) ${text}` });
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
  });
  child.on('exit', () => {
    release();
    for (const wake of waiters) wake();
  });

  const describeLog = (): string => `${lines.map((l) => JSON.stringify(l)).join('\n')}\n--- stderr ---\n${stderr.join('')}`;

  const daemon: DaemonProcess = {
    child,
    lines,
    mark: () => lines.length,
    waitFor(msg, options = {}) {
      const since = options.since ?? 0;
      const matches = (l: LogLine): boolean => msg.test(String(l.msg)) && (options.where?.(l) ?? true);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = lines.slice(since).find(matches);
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`daemon exited (${String(child.exitCode ?? child.signalCode)}) before a log line matching ${String(msg)}:\n${describeLog()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no daemon log line matching ${String(msg)} within ${options.timeoutMs ?? WAIT_MS} ms:\n${describeLog()}`));
        }, options.timeoutMs ?? WAIT_MS);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      return child.exitCode;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
  await daemon.waitFor(/onionmx-milter started/);
  return daemon;
}
