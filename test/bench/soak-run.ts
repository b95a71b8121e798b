// One soak run against a fresh `serve`: 100 milter sessions running transactions back to back (peak RSS), then the full burst of
// milter sessions and lookup connections at once (peak RSS), then the steady phase (RSS and
// descriptors sampled). Between phases it waits for the daemon to be idle again and compares its
// descriptor count with the one it had before any load: a difference is a leak.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processCpuMs } from './proc-cpu.ts';
import { burst, ErrorLog } from './soak-load.ts';
import { sampleProcess, startSoakDaemon, type ProcessSample, type SoakDaemon, type SoakDaemonOptions } from './soak-daemon.ts';
import { growthAfter, steadyLoad, type Growth, type SteadySample } from './soak-steady.ts';

export interface SoakOptions {
  /** Concurrent milter sessions of the burst (and as many lookup connections). */
  readonly sessions: number;
  readonly lookups: number;
  readonly transactionsEach: number;
  /** Transactions per session of the 100-session phase: back to back, so the heap reaches its working size. */
  readonly hundredTransactionsEach: number;
  readonly lookupsEach: number;
  readonly steady: {
    readonly durationMs: number;
    readonly warmupMs: number;
    readonly sampleEveryMs: number;
    readonly sessions: number;
    readonly lookupConnections: number;
    readonly transactionRate: number;
    readonly lookupRate: number;
    readonly reconnectEvery: number;
  };
  readonly daemon?: SoakDaemonOptions;
  readonly onProgress?: (line: string) => void;
}

export interface PhaseFigures {
  readonly transactions: number;
  readonly lookups: number;
  /** Right after the phase (peakRssBytes: VmHWM, the highest RSS so far). */
  readonly after: ProcessSample;
  /** The daemon's CPU time (all threads) during the phase, in ms. */
  readonly daemonCpuMs: number;
}

export interface SoakReport {
  readonly idle: ProcessSample;
  readonly hundred: PhaseFigures;
  readonly full: PhaseFigures;
  readonly steady: {
    readonly transactions: number;
    readonly lookups: number;
    readonly samples: readonly SteadySample[];
    readonly growth: Growth;
    /** The daemon's CPU time (all threads) over the steady phase, in ms. */
    readonly daemonCpuMs: number;
  };
  /** Descriptors of the idle daemon after all load minus before it: 0 or less when nothing leaked. */
  readonly fdLeak: number;
  readonly errors: ErrorLog;
  readonly dnsQueries: number;
  readonly daemonCrashed: boolean;
}

/** Waits (bounded) until the daemon has closed its side of every connection the client closed. */
async function idleFds(pid: number, target: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  let fds = sampleProcess(pid).fds;
  while (fds > target && Date.now() < deadline) {
    await sleep(50);
    fds = sampleProcess(pid).fds;
  }
  return fds;
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-soak-'));
  const progress = o.onProgress ?? (() => undefined);
  let daemon: SoakDaemon | undefined;
  try {
    daemon = await startSoakDaemon(dir, o.daemon);
    const errors = new ErrorLog();
    const ports = daemon;
    const idle = sampleProcess(daemon.pid);
    progress(`idle: RSS ${mb(idle.rssBytes)} MB, ${idle.fds} fds`);

    const pid = daemon.pid;
    let cpu = processCpuMs(pid) ?? NaN;
    /** The daemon's CPU ms since the previous call. */
    const cpuSince = (): number => {
      const before = cpu;
      cpu = processCpuMs(pid) ?? NaN;
      return cpu - before;
    };
    const h = await burst(daemon.milter, ports, { sessions: Math.min(100, o.sessions), lookups: 0, transactionsEach: o.hundredTransactionsEach, lookupsEach: 0 }, errors);
    const hundred = { ...h, after: sampleProcess(daemon.pid), daemonCpuMs: cpuSince() };
    progress(`100 milter sessions: ${h.transactions} transactions, peak RSS ${mb(hundred.after.peakRssBytes)} MB, daemon CPU ${(hundred.daemonCpuMs / h.transactions).toFixed(3)} ms per transaction`);
    await idleFds(daemon.pid, idle.fds);

    const f = await burst(daemon.milter, ports, o, errors);
    const full = { ...f, after: sampleProcess(daemon.pid), daemonCpuMs: cpuSince() };
    progress(`${o.sessions} milter sessions + ${o.lookups} lookup connections: ${f.transactions} transactions, ${f.lookups} lookups, peak RSS ${mb(full.after.peakRssBytes)} MB`);
    await idleFds(daemon.pid, idle.fds);

    cpuSince();
    const s = await steadyLoad(
      {
        ...o.steady,
        milter: daemon.milter,
        ports,
        pid,
        onSample: (x) => {
          progress(`steady ${(x.atMs / 1000).toFixed(0)} s: RSS ${mb(x.rssBytes)} MB, ${x.fds} fds, ${x.transactions} transactions, ${x.lookups} lookups, ${errors.count} errors`);
        },
      },
      errors,
    );
    const daemonCpuMs = cpuSince();
    const fdsAfter = await idleFds(daemon.pid, idle.fds);
    return {
      idle,
      hundred,
      full,
      steady: { ...s, growth: growthAfter(s.samples, o.steady.warmupMs), daemonCpuMs },
      fdLeak: fdsAfter - idle.fds,
      errors,
      dnsQueries: daemon.dnsQueries(),
      daemonCrashed: !daemon.running(),
    };
  } finally {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
