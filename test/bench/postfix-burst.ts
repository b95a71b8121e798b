// One timed burst of the Postfix benchmark: Postfix's smtp-source sends N messages over S parallel
// sessions to one smtpd port; the clock runs from spawning smtp-source until the sink has counted
// the N-th message. Also records when smtp-source finished (every message accepted by Postfix),
// the CPU time of the processes the caller watches (our daemon, Postfix) and how busy the whole
// machine was.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { SmtpSink } from './postfix-sink.ts';
import { preciseCpuMs } from './proc-cpu.ts';

export interface BurstSpec {
  readonly smtpSource: string;
  readonly port: number;
  readonly messages: number;
  readonly sessions: number;
  /** Payload bytes per message (smtp-source -l), headers not included. */
  readonly size: number;
  /** Several messages per SMTP connection (smtp-source -d) instead of one connection per message. */
  readonly reuse: boolean;
  readonly recipient: string;
  /** Failure bound for the whole burst, not an expectation. */
  readonly timeoutMs: number;
}

export interface BurstResult {
  /** Spawn of smtp-source to the sink counting the last message. */
  readonly seconds: number;
  /** Spawn of smtp-source to its exit: every message accepted by the receiving side. */
  readonly acceptSeconds: number;
  /** CPU time used during the burst by each watched process (tree); undefined when unreadable. */
  readonly cpuMs: Readonly<Record<string, number | undefined>>;
  /** Share of all CPUs' time that was not idle during the burst, in percent. */
  readonly machineBusyPercent: number;
}

export function smtpSourceArgs(spec: BurstSpec): string[] {
  return [
    '-m', String(spec.messages),
    '-s', String(spec.sessions),
    '-l', String(spec.size),
    ...(spec.reuse ? ['-d'] : []),
    '-N', // a fresh recipient per message, so Postfix's rewrite and resolve caches work as for real mail
    '-M', 'client.example',
    '-f', 'sender@client.example',
    '-t', spec.recipient,
    `127.0.0.1:${spec.port}`,
  ];
}

/** CPU time so far (ms) of something watched during bursts, or undefined when unreadable. */
export type CpuProbe = () => number | undefined;

export async function runBurst(spec: BurstSpec, sink: SmtpSink, watched: Readonly<Record<string, CpuProbe>> = {}): Promise<BurstResult> {
  const target = sink.messages + spec.messages;
  const cpuBefore = readProbes(watched);
  const machineBefore = machineCpu();
  const start = process.hrtime.bigint();
  const delivered = sink.waitForMessages(target, spec.timeoutMs);
  // A rejection before the source has finished must not go unhandled.
  delivered.catch(() => undefined);
  const acceptedAt = await runSmtpSource(spec);
  const deliveredAt = await delivered;
  const machineAfter = machineCpu();
  const cpuAfter = readProbes(watched);
  const total = machineAfter.total - machineBefore.total;
  return {
    seconds: Number(deliveredAt - start) / 1e9,
    acceptSeconds: Number(acceptedAt - start) / 1e9,
    cpuMs: Object.fromEntries(
      Object.keys(watched).map((name) => {
        const before = cpuBefore[name];
        const after = cpuAfter[name];
        return [name, before === undefined || after === undefined ? undefined : after - before];
      }),
    ),
    machineBusyPercent: total > 0 ? (100 * (total - (machineAfter.idle - machineBefore.idle))) / total : Number.NaN,
  };
}

/** Resolves with the hrtime of smtp-source's exit; rejects when it fails (a refused message aborts it). */
function runSmtpSource(spec: BurstSpec): Promise<bigint> {
  return new Promise((resolve, reject) => {
    const child = spawn(spec.smtpSource, smtpSourceArgs(spec), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      const at = process.hrtime.bigint();
      clearTimeout(timer);
      if (code === 0) resolve(at);
      else reject(new Error(`smtp-source exited ${code === null ? `on ${String(signal)}` : code}: ${stderr.trim()}`));
    });
  });
}

function readProbes(watched: Readonly<Record<string, CpuProbe>>): Record<string, number | undefined> {
  return Object.fromEntries(Object.entries(watched).map(([name, probe]) => [name, probe()]));
}

/**
 * CPU time (ms) of a process group led by a Postfix master: every live member plus what the
 * master has reaped from children that exited (cutime/cstime), so processes that come and go
 * during a burst are counted too.
 */
export function processGroupCpuMs(leader: number): number | undefined {
  const own = readStat(leader);
  if (own === undefined) return undefined;
  let total = own.childrenMs;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.pgrp === leader) total += stat.ownMs;
  }
  return total;
}

/**
 * CPU time (ms, preciseCpuMs) of the live processes of one master.cf service (`-n <service>` in their command
 * line) in the process group of a Postfix master. Processes that exit take their time with them
 * (into the master's cutime, see reapedChildrenCpuMs), so a caller diffing two readings must check
 * that nothing was reaped in between.
 */
export function serviceCpuMs(leader: number, service: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (readStat(pid)?.pgrp !== leader || !runsService(pid, service)) continue;
    total += preciseCpuMs(pid) ?? 0;
  }
  return total;
}

/** What a Postfix master has reaped so far: the CPU time (ms) of its children that exited. */
export function reapedChildrenCpuMs(leader: number): number | undefined {
  return readStat(leader)?.childrenMs;
}

function runsService(pid: number, service: string): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
  } catch {
    return false;
  }
  const at = argv.indexOf('-n');
  return at >= 0 && argv[at + 1] === service;
}

// USER_HZ is 100 on every Linux architecture Node supports.
const TICK_MS = 10;

function readStat(pid: number): { pgrp: number; ownMs: number; childrenMs: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited while we looked
  }
  // After the parenthesised command: state ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime ...
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  const [pgrp, utime, stime, cutime, cstime] = [f[2], f[11], f[12], f[13], f[14]];
  if (pgrp === undefined || utime === undefined || stime === undefined || cutime === undefined || cstime === undefined) return undefined;
  return { pgrp, ownMs: (utime + stime) * TICK_MS, childrenMs: (cutime + cstime) * TICK_MS };
}

/** Jiffies of all CPUs together, from the first line of /proc/stat. */
export function parseProcStat(text: string): { total: number; idle: number } {
  const line = text.split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user/nice)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, idle: idle + iowait };
}

function machineCpu(): { total: number; idle: number } {
  return parseProcStat(readFileSync('/proc/stat', 'utf8'));
}
