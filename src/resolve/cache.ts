// A TTL cache for lookup results keyed by domain: positive and negative TTLs, short-lived
// failures, a max-TTL cap, LRU eviction, single-flight loading and optional serve-stale
// (RFC 8767). The clock is injected so tests never sleep.

/** How a loaded value is cached: positive values may later be served stale; failures briefly. */
export type CacheEntryKind = 'positive' | 'negative' | 'failure';

export interface Loaded<V> {
  readonly value: V;
  readonly kind: CacheEntryKind;
  /** How long the source says the value may be used (DNS TTL, RFC 2308 negative TTL). Ignored for failures. */
  readonly ttlMs: number;
}

/** A cache answer. For hits it is the stored entry itself: reading it allocates nothing. */
export interface CacheHit<V> {
  readonly value: V;
  readonly kind: CacheEntryKind;
  /** True for a positive value served after its TTL because the refresh failed. */
  readonly isStale: boolean;
  /** Clock time (ms) when this answer stops being served from cache. */
  readonly expiresAt: number;
}

export interface TtlCacheOptions {
  /** LRU bound on entries. Default 100 000. */
  readonly maxEntries?: number;
  /** Cap on any TTL, however long the source says. Default 1 day. */
  readonly maxTtlMs?: number;
  /**
   * How long a failure (SERVFAIL, timeout, ...) is cached: long enough that a burst of mail for a
   * broken domain costs one query, short enough that recovery is noticed quickly. Default 30 s;
   * capped at 5 min (RFC 2308 §7.1 allows caching server failures for at most five minutes).
   */
  readonly failureTtlMs?: number;
  /** Serve an expired positive value this long after expiry when the refresh fails. Default 0 (off). */
  readonly serveStaleMs?: number;
  /** Milliseconds; default Date.now. */
  readonly now?: () => number;
}

export const CACHE_DEFAULTS = {
  maxEntries: 100_000,
  maxTtlMs: 86_400_000,
  failureTtlMs: 30_000,
  serveStaleMs: 0,
} as const;

/** RFC 2308 §7.1: server failures are cached for at most five minutes. */
export const MAX_FAILURE_TTL_MS = 300_000;

class Entry<V> implements CacheHit<V> {
  readonly value: V;
  readonly kind: CacheEntryKind;
  readonly isStale: boolean;
  readonly expiresAt: number;
  /** Until when this value may still be served stale after a failed refresh. */
  readonly staleUntil: number;
  /** The cache's move counter when this entry last moved to the recent end (see TtlCache.get). */
  tick = 0;
  constructor(value: V, kind: CacheEntryKind, isStale: boolean, expiresAt: number, staleUntil: number) {
    this.value = value;
    this.kind = kind;
    this.isStale = isStale;
    this.expiresAt = expiresAt;
    this.staleUntil = staleUntil;
  }
}

export class TtlCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #inflight = new Map<string, Promise<CacheHit<V>>>();
  readonly #maxEntries: number;
  readonly #maxTtlMs: number;
  readonly #failureTtlMs: number;
  readonly #serveStaleMs: number;
  readonly #now: () => number;
  #tick = 0;

  constructor(options: TtlCacheOptions = {}) {
    this.#maxEntries = Math.max(1, options.maxEntries ?? CACHE_DEFAULTS.maxEntries);
    this.#maxTtlMs = Math.max(0, options.maxTtlMs ?? CACHE_DEFAULTS.maxTtlMs);
    this.#failureTtlMs = Math.min(MAX_FAILURE_TTL_MS, Math.max(0, options.failureTtlMs ?? CACHE_DEFAULTS.failureTtlMs));
    this.#serveStaleMs = Math.max(0, options.serveStaleMs ?? CACHE_DEFAULTS.serveStaleMs);
    this.#now = options.now ?? Date.now;
  }

  /** The live answer for key, or undefined (absent or expired). The hot path: one Map lookup, one LRU touch. */
  get(key: string): CacheHit<V> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || this.#now() >= entry.expiresAt) return undefined;
    // Move to the most-recently-used end (Map iteration order is insertion order), unless fewer
    // than maxEntries/2 moves happened since this entry's last one: then it already sits in the
    // recent half and cannot be the next eviction. Skipping the move keeps hot hits cheap.
    if (this.#tick - entry.tick >= this.#maxEntries >> 1) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      entry.tick = ++this.#tick;
    }
    return entry;
  }

  /**
   * The live answer, or the result of load(key). Concurrent callers for one key share a single
   * load (single flight). If load rejects, every waiter sees the rejection and nothing is cached.
   */
  lookup(key: string, load: (key: string) => Promise<Loaded<V>>): Promise<CacheHit<V>> {
    const hit = this.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return pending;
    const loading = this.#load(key, load).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, loading);
    return loading;
  }

  async #load(key: string, load: (key: string) => Promise<Loaded<V>>): Promise<CacheHit<V>> {
    const loaded = await load(key);
    const now = this.#now();
    const previous = this.#entries.get(key);
    if (loaded.kind === 'failure' && previous?.kind === 'positive' && now < previous.staleUntil) {
      // RFC 8767 §4: answer with the stale data, and retry the source only after the failure TTL.
      const retryAt = Math.min(now + Math.max(this.#failureTtlMs, 1), previous.staleUntil);
      return this.#store(key, new Entry(previous.value, 'positive', true, retryAt, previous.staleUntil));
    }
    const ttl = loaded.kind === 'failure' ? this.#failureTtlMs : Math.min(Math.max(0, loaded.ttlMs), this.#maxTtlMs);
    const entry = new Entry(loaded.value, loaded.kind, false, now + ttl, now + ttl + (loaded.kind === 'positive' ? this.#serveStaleMs : 0));
    if (ttl > 0) return this.#store(key, entry);
    this.#entries.delete(key); // a TTL-0 answer supersedes whatever stale value we held
    return entry;
  }

  #store(key: string, entry: Entry<V>): Entry<V> {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    entry.tick = ++this.#tick;
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    return entry;
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Entries held, including expired ones kept for serve-stale or not yet evicted. */
  get size(): number {
    return this.#entries.size;
  }

  /** Loads in progress (for tests and metrics). */
  get inflight(): number {
    return this.#inflight.size;
  }
}
