// Background reachability checks of the onion routes the daemon has used recently. The SMTP path
// only calls noteRouteUsed() (a map write, no I/O) and isUnreachable() (a map read); probes run on
// a timer, at most `concurrency` at once, and each onion at most once per interval. An onion
// counts as unreachable after `failuresBeforeUnreachable` failed probes in a row, and reachable
// again after one success. withHealthPolicy() applies health.on_unreachable to decisions.
import type { Logger } from '../log.ts';
import type { Decision } from '../resolve/types.ts';
import type { UnreachablePolicy } from '../config/schema.ts';
import type { ProbeResult } from './probe.ts';

export interface OnionHealth {
  readonly onion: string;
  /** The port of the most recent route that used it. */
  readonly port: number;
  readonly lastUsedAt: number;
  readonly lastProbeAt: number | undefined;
  /** undefined until the first probe finished. */
  readonly reachable: boolean | undefined;
  readonly consecutiveFailures: number;
  /** Tor's code (`F2`, `06`) or our failure code from the last failed probe. */
  readonly lastErrorCode: string | undefined;
  readonly lastMessage: string | undefined;
  readonly unreachable: boolean;
}

export interface HealthCheckerOptions {
  readonly intervalMs: number;
  readonly failuresBeforeUnreachable: number;
  readonly concurrency: number;
  readonly forgetAfterMs: number;
  readonly probe: (target: { readonly onion: string; readonly port: number }, signal: AbortSignal) => Promise<ProbeResult>;
  readonly log: Logger;
  /** Called after every probe (metrics). */
  readonly onProbe?: (result: ProbeResult, health: OnionHealth) => void;
  readonly now?: () => number;
}

interface Entry {
  onion: string;
  port: number;
  lastUsedAt: number;
  lastProbeAt: number | undefined;
  reachable: boolean | undefined;
  consecutiveFailures: number;
  lastErrorCode: string | undefined;
  lastMessage: string | undefined;
  probing: boolean;
}

export class HealthChecker {
  readonly #o: HealthCheckerOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #closing = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;

  constructor(options: HealthCheckerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The daemon routed mail to this onion. No I/O: the next tick probes it. */
  noteRouteUsed(onion: string, port: number): void {
    const e = this.#entries.get(onion);
    const now = this.#now();
    if (e === undefined) {
      this.#entries.set(onion, { onion, port, lastUsedAt: now, lastProbeAt: undefined, reachable: undefined, consecutiveFailures: 0, lastErrorCode: undefined, lastMessage: undefined, probing: false });
      return;
    }
    e.lastUsedAt = now;
    e.port = port;
  }

  isUnreachable(onion: string): boolean {
    const e = this.#entries.get(onion);
    return e !== undefined && e.consecutiveFailures >= this.#o.failuresBeforeUnreachable;
  }

  state(onion: string): OnionHealth | undefined {
    const e = this.#entries.get(onion);
    return e === undefined ? undefined : this.#view(e);
  }

  snapshot(): readonly OnionHealth[] {
    return [...this.#entries.values()].map((e) => this.#view(e));
  }

  /** Ticks every interval (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      void this.tick();
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  /**
   * Probes every onion that is due (used within forgetAfter, not probed within the interval);
   * forgets the rest. A tick already running is joined, never doubled.
   */
  tick(): Promise<void> {
    this.#tick ??= this.#runTick().finally(() => {
      this.#tick = undefined;
    });
    return this.#tick;
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#closing.abort(new Error('health checker closing'));
    await this.#tick;
  }

  async #runTick(): Promise<void> {
    const now = this.#now();
    const due: Entry[] = [];
    for (const [onion, e] of this.#entries) {
      if (now - e.lastUsedAt > this.#o.forgetAfterMs) {
        this.#entries.delete(onion);
        continue;
      }
      if (!e.probing && (e.lastProbeAt === undefined || now - e.lastProbeAt >= this.#o.intervalMs)) due.push(e);
    }
    // Least recently probed first, so a long list is covered fairly across ticks.
    due.sort((a, b) => (a.lastProbeAt ?? -Infinity) - (b.lastProbeAt ?? -Infinity));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < due.length && !this.#closing.signal.aborted) {
        const e = due[next++];
        if (e !== undefined) await this.#probe(e);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, due.length) }, worker));
  }

  async #probe(e: Entry): Promise<void> {
    e.probing = true;
    e.lastProbeAt = this.#now();
    let result: ProbeResult;
    try {
      result = await this.#o.probe({ onion: e.onion, port: e.port }, this.#closing.signal);
    } catch (err) {
      result = { ok: false, onion: e.onion, port: e.port, stage: 'connect', code: 'probe-error', kind: 'proxy-protocol', rep: undefined, permanent: false, message: err instanceof Error ? err.message : String(err), connectMs: undefined };
    } finally {
      e.probing = false;
    }
    if (this.#closing.signal.aborted) return;
    const wasUnreachable = this.isUnreachable(e.onion);
    if (result.ok) {
      e.reachable = true;
      e.consecutiveFailures = 0;
    } else {
      e.reachable = false;
      e.consecutiveFailures++;
      e.lastErrorCode = result.code;
      e.lastMessage = result.message;
    }
    const nowUnreachable = this.isUnreachable(e.onion);
    if (nowUnreachable && !wasUnreachable) {
      this.#o.log.error({ onion: e.onion, port: e.port, failures: e.consecutiveFailures, code: e.lastErrorCode }, `onion route unreachable: ${e.lastMessage ?? ''}`);
    } else if (wasUnreachable && !nowUnreachable) {
      this.#o.log.warn({ onion: e.onion, port: e.port }, 'onion route reachable again');
    }
    this.#o.onProbe?.(result, this.#view(e));
  }

  #view(e: Entry): OnionHealth {
    return {
      onion: e.onion,
      port: e.port,
      lastUsedAt: e.lastUsedAt,
      lastProbeAt: e.lastProbeAt,
      reachable: e.reachable,
      consecutiveFailures: e.consecutiveFailures,
      lastErrorCode: e.lastErrorCode,
      lastMessage: e.lastMessage,
      unreachable: this.isUnreachable(e.onion),
    };
  }
}

/** The resolver surface the routing filter uses (src/routing/milter-filter.ts RouteResolver). */
export interface ResolveFn {
  resolve(input: string, signal?: AbortSignal): Promise<Decision>;
  peek?(input: string): Decision | undefined;
}

/**
 * Wraps a resolver: every route decision tells the checker its onion was used, and under
 * `defer` or `clearnet` a route to an onion marked unreachable becomes a tempfail (MTA retries
 * later) or `none` (delivered over the clearnet; logged loudly every time).
 */
export function withHealthPolicy(resolver: ResolveFn, health: HealthChecker, policy: UnreachablePolicy, log: Logger): ResolveFn {
  const wrapped: ResolveFn = {
    async resolve(input, signal) {
      return applyHealthPolicy(await resolver.resolve(input, signal), health, policy, log);
    },
  };
  const peek = resolver.peek?.bind(resolver);
  if (peek === undefined) return wrapped;
  return {
    ...wrapped,
    peek(input) {
      const d = peek(input);
      return d === undefined ? undefined : applyHealthPolicy(d, health, policy, log);
    },
  };
}

/**
 * The on_unreachable policy for one decision, shared by the milter and the lookup servers: notes
 * the route as used (so the checker probes it) and, for an onion that failed its last probes,
 * answers tempfail (defer) or none (clearnet, logged loudly) instead of the route.
 */
export function applyHealthPolicy(d: Decision, health: HealthChecker, policy: UnreachablePolicy, log: Logger): Decision {
  if (d.kind !== 'route') return d;
  health.noteRouteUsed(d.onion, d.port);
  if (policy === 'route' || !health.isUnreachable(d.onion)) return d;
  const s = health.state(d.onion);
  const detail = `${d.onion}:${d.port} failed its last ${s?.consecutiveFailures ?? 0} health probes (${s?.lastErrorCode ?? '?'}: ${s?.lastMessage ?? ''})`;
  if (policy === 'defer') return { kind: 'tempfail', domain: d.domain, reason: 'onion-unreachable', detail, ttl: 0 };
  log.warn({ domain: d.domain, onion: d.onion, policy }, `CLEARNET DOWNGRADE: onion route unreachable, delivering ${d.domain} without Tor as health.on_unreachable says: ${detail}`);
  return { kind: 'none', domain: d.domain, reason: 'onion-unreachable', detail, ttl: 0 };
}
