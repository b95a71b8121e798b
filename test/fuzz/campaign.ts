// What every target shares: its budget (inputs and seconds), its report, the memory probe, and
// the socket driver that sends one hostile input and watches the server answer or close.
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface Budget {
  /** Stop after this many inputs (milter: packets). */
  readonly count: number;
  /** ... or after this many seconds, whichever comes first. */
  readonly seconds: number;
  readonly seed: number;
}

export interface TargetReport {
  readonly target: string;
  /** Inputs run: connections for socket targets, messages for pure codecs. */
  inputs: number;
  /** Milter packets, netstrings, lines, DNS messages: the unit of each target. */
  packets: number;
  bytes: number;
  seconds: number;
  /** Uncaught exceptions and unhandled rejections while the target ran. */
  crashes: number;
  /** Connections neither answered nor closed within their bound. */
  hangs: number;
  /** Oracle failures, each with the seed and index that reproduce it (at most 20 kept). */
  failures: string[];
  failureCount: number;
  readonly figures: Record<string, number | string>;
}

export function newReport(target: string): TargetReport {
  return { target, inputs: 0, packets: 0, bytes: 0, seconds: 0, crashes: 0, hangs: 0, failures: [], failureCount: 0, figures: {} };
}

export function fail(report: TargetReport, what: string): void {
  report.failureCount++;
  if (report.failures.length < 20) report.failures.push(what);
}

export function deadlineOf(budget: Budget): number {
  return Date.now() + budget.seconds * 1000;
}

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

export interface MemorySample {
  readonly heapMiB: number;
  readonly rssMiB: number;
}

/** Heap and RSS after full collections (so growth means retained memory, not garbage). */
export async function memoryAfterGc(): Promise<MemorySample> {
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { heapMiB: round(m.heapUsed / 2 ** 20), rssMiB: round(m.rss / 2 ** 20) };
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** How an input reaches the server. `stall` writes and then waits: the server's idle timeout must close it. */
export type SendPlan =
  | { readonly kind: 'whole' }
  | { readonly kind: 'split'; readonly cuts: readonly number[] }
  | { readonly kind: 'byte-at-a-time' }
  | { readonly kind: 'disconnect'; readonly at: number }
  | { readonly kind: 'stall' };

export interface SendOutcome {
  /** 'closed': the server closed (after answering or not); 'reset': we reset it; 'hang': neither within the bound. */
  readonly end: 'closed' | 'reset' | 'hang';
  /** Everything the server sent. */
  readonly reply: Buffer;
}

function write(s: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve();
    else s.write(bytes, () => { resolve(); });
  });
}

/** Sends `bytes` to 127.0.0.1:port as planned; resolves when the server closed, or after boundMs. */
export function sendAndWatch(port: number, bytes: Buffer, plan: SendPlan, boundMs: number): Promise<SendOutcome> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let settled = false;
    const s = connect({ host: '127.0.0.1', port });
    const done = (end: SendOutcome['end']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ end, reply: Buffer.concat(received) });
      if (!s.destroyed) s.destroy();
    };
    const timer = setTimeout(() => { done('hang'); }, boundMs);
    s.on('error', () => undefined); // the server may reset a connection it refuses
    s.on('data', (d: Buffer) => { received.push(d); });
    s.once('close', () => { done('closed'); });
    s.once('connect', () => {
      void (async () => {
        switch (plan.kind) {
          case 'whole':
            s.end(bytes);
            return;
          case 'split': {
            let from = 0;
            for (const cut of plan.cuts) {
              await write(s, bytes.subarray(from, cut));
              from = cut;
            }
            s.end(bytes.subarray(from));
            return;
          }
          case 'byte-at-a-time':
            for (let i = 0; i < bytes.length && !s.destroyed; i++) await write(s, bytes.subarray(i, i + 1));
            s.end();
            return;
          case 'disconnect':
            await write(s, bytes.subarray(0, plan.at));
            s.resetAndDestroy();
            done('reset');
            return;
          case 'stall':
            await write(s, bytes);
            return;
        }
      })();
    });
  });
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) {
      const item = items[i];
      if (item !== undefined) await work(item, i);
    }
  });
  await Promise.all(runners);
}

/** Polls until cond() holds or boundMs passes; true when it held. */
export async function settle(cond: () => boolean, boundMs: number): Promise<boolean> {
  const give = Date.now() + boundMs;
  while (!cond()) {
    if (Date.now() > give) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
