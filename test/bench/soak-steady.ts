// The steady phase of the soak: a fixed number of milter sessions and lookup connections, each
// paced to its share of a fixed rate, every connection replaced after a number of uses (so a
// leaked descriptor or session would pile up), while the daemon's RSS and descriptors are sampled.
import { setTimeout as sleep } from 'node:timers/promises';
import { openConnection, transaction } from './milter-load.ts';
import { openLookup, soakScenario, type ErrorLog, type LookupEndpoints } from './soak-load.ts';
import { sampleProcess, type ProcessSample } from './soak-daemon.ts';

export interface SteadyOptions {
  readonly milter: string;
  readonly ports: LookupEndpoints;
  readonly pid: number;
  readonly sessions: number;
  readonly lookupConnections: number;
  /** Transactions per second over all sessions. */
  readonly transactionRate: number;
  /** Lookups per second over all lookup connections. */
  readonly lookupRate: number;
  /** A session quits and a new one connects after this many transactions (lookups: 2x). */
  readonly reconnectEvery: number;
  readonly durationMs: number;
  readonly sampleEveryMs: number;
  readonly onSample?: (s: SteadySample) => void;
}

export interface SteadySample extends ProcessSample {
  readonly atMs: number;
  readonly transactions: number;
  readonly lookups: number;
}

export interface SteadyResult {
  readonly samples: readonly SteadySample[];
  readonly transactions: number;
  readonly lookups: number;
}

/** Waits until `slot` (ms on the performance clock); never bursts to catch up on a missed slot. */
async function paced(interval: number, until: number, step: () => Promise<boolean>): Promise<void> {
  let slot = performance.now();
  while (slot < until) {
    const wait = slot - performance.now();
    if (wait > 0) await sleep(wait);
    if (!(await step())) return;
    slot = Math.max(slot + interval, performance.now());
  }
}

export async function steadyLoad(o: SteadyOptions, errors: ErrorLog): Promise<SteadyResult> {
  const start = performance.now();
  const until = start + o.durationMs;
  let transactions = 0;
  let lookups = 0;
  const samples: SteadySample[] = [];
  const take = (): void => {
    const s = { atMs: Math.round(performance.now() - start), transactions, lookups, ...sampleProcess(o.pid) };
    samples.push(s);
    o.onSample?.(s);
  };

  const session = async (i: number): Promise<void> => {
    const interval = (1000 * o.sessions) / o.transactionRate;
    // Spread the sessions over one interval so the load is even, not in waves.
    await sleep((interval * i) / o.sessions);
    let client = await openConnection(o.milter, i);
    let used = 0;
    let seq = 0;
    await paced(interval, until, async () => {
      try {
        if (used === o.reconnectEvery) {
          await client.quit();
          client = await openConnection(o.milter, i);
          used = 0;
        }
        await transaction(client, `S${i.toString(36)}Q${(seq++).toString(36)}`, soakScenario(i + seq));
        used++;
        transactions++;
        return true;
      } catch (err) {
        errors.add(`steady milter session ${i}`, err);
        client.destroy();
        return false;
      }
    });
    await client.quit().catch(() => undefined);
  };

  const lookupConnection = async (i: number): Promise<void> => {
    const interval = (1000 * o.lookupConnections) / o.lookupRate;
    await sleep((interval * i) / o.lookupConnections);
    const kind = i % 2 === 0 ? 'socketmap' : 'tcp_table';
    let conn = await openLookup(kind, o.ports);
    let used = 0;
    let seq = i * 1_000_000;
    await paced(interval, until, async () => {
      try {
        if (used === 2 * o.reconnectEvery) {
          conn.close();
          conn = await openLookup(kind, o.ports);
          used = 0;
        }
        await conn.lookup(seq++);
        used++;
        lookups++;
        return true;
      } catch (err) {
        errors.add(`steady lookup connection ${i}`, err);
        return false;
      }
    });
    conn.close();
  };

  take();
  const sampler = setInterval(take, o.sampleEveryMs);
  try {
    const all = [...Array.from({ length: o.sessions }, (_, i) => session(i)), ...Array.from({ length: o.lookupConnections }, (_, i) => lookupConnection(i))];
    for (const r of await Promise.allSettled(all)) if (r.status === 'rejected') errors.add('steady connection', r.reason);
  } finally {
    clearInterval(sampler);
  }
  take();
  return { samples, transactions, lookups };
}

export interface Growth {
  /**
   * RSS on the least-squares line through the samples after warm-up, at its first and last
   * sample, and the relative change between them. V8 lets garbage collect in the old generation
   * until a major GC, so RSS is a sawtooth; the fitted line is what a leak moves, not the phase
   * of the saw at the first or last sample.
   */
  readonly fittedStartBytes: number;
  readonly fittedEndBytes: number;
  readonly growth: number;
  readonly slopeBytesPerHour: number;
  /** The highest RSS in the first and in the last third of the samples after warm-up. */
  readonly firstThirdPeakBytes: number;
  readonly lastThirdPeakBytes: number;
  readonly minFds: number;
  readonly maxFds: number;
  readonly samplesAfterWarmup: number;
}

export function growthAfter(samples: readonly SteadySample[], warmupMs: number): Growth {
  const after = samples.filter((s) => s.atMs >= warmupMs);
  const n = after.length;
  const mx = after.reduce((a, s) => a + s.atMs, 0) / n;
  const my = after.reduce((a, s) => a + s.rssBytes, 0) / n;
  const cov = after.reduce((a, s) => a + (s.atMs - mx) * (s.rssBytes - my), 0);
  const varx = after.reduce((a, s) => a + (s.atMs - mx) ** 2, 0);
  const slope = varx > 0 ? cov / varx : 0;
  const at = (ms: number): number => my + slope * (ms - mx);
  const fittedStartBytes = at(after[0]?.atMs ?? 0);
  const fittedEndBytes = at(after[n - 1]?.atMs ?? 0);
  const third = Math.max(1, Math.floor(n / 3));
  const peak = (part: readonly SteadySample[]): number => Math.max(...part.map((s) => s.rssBytes));
  return {
    fittedStartBytes,
    fittedEndBytes,
    growth: fittedEndBytes / fittedStartBytes - 1,
    slopeBytesPerHour: slope * 3_600_000,
    firstThirdPeakBytes: peak(after.slice(0, third)),
    lastThirdPeakBytes: peak(after.slice(-third)),
    minFds: Math.min(...after.map((s) => s.fds)),
    maxFds: Math.max(...after.map((s) => s.fds)),
    samplesAfterWarmup: n,
  };
}
