// SRV lookups behind the cache: what the resolver facade calls (SrvSource). The weighted target
// order is drawn once per cache entry, so all recipients of a domain get the same onion while the
// entry lives; concurrent lookups of one domain share one DNS query.
import type { SrvSource } from './resolver.ts';
import { TtlCache, type CacheEntryKind, type CacheHit, type Loaded, type TtlCacheOptions } from './cache.ts';
import { lookupOnionSrv, type OnionSrvResult, type SrvLookupDeps } from './srv.ts';
import { errorMessage } from '../errors.ts';

export interface SrvSourceOptions extends Omit<SrvLookupDeps, 'signal'> {
  readonly cache?: TtlCacheOptions;
}

export interface CachedSrvSource extends SrvSource {
  cached(domain: string): OnionSrvResult | undefined;
  lookup(domain: string, signal?: AbortSignal): Promise<OnionSrvResult>;
  readonly cache: TtlCache<OnionSrvResult>;
}

/**
 * Outcomes carry `ttlMs` = the time left in the cache (failures: the failure TTL; stale answers:
 * until the next refresh attempt), so callers never cache a decision longer than we do.
 * A caller's AbortSignal ends only that caller's wait: the shared query goes on for the others,
 * bounded by the stub resolver's own deadline.
 */
export function createSrvSource(options: SrvSourceOptions): CachedSrvSource {
  const cache = new TtlCache<OnionSrvResult>(options.cache);
  const now = options.cache?.now ?? Date.now;
  const load = async (domain: string): Promise<Loaded<OnionSrvResult>> => {
    try {
      const value = await lookupOnionSrv(domain, options);
      return { value, kind: kindOf(value), ttlMs: value.ttlMs };
    } catch (err) {
      return { value: { kind: 'failure', reason: 'network', detail: errorMessage(err), ttlMs: 0 }, kind: 'failure', ttlMs: 0 };
    }
  };
  const present = (hit: CacheHit<OnionSrvResult>): OnionSrvResult => {
    const ttlMs = Math.max(0, hit.expiresAt - now());
    const value = hit.value;
    return value.kind === 'targets' && hit.isStale ? { ...value, ttlMs, stale: true } : { ...value, ttlMs };
  };
  return {
    cache,
    cached(domain) {
      const hit = cache.get(domain);
      return hit === undefined ? undefined : present(hit);
    },
    async lookup(domain, signal) {
      const shared = cache.lookup(domain, load).then(present);
      if (signal === undefined) return shared;
      return raceAbort(shared, signal);
    },
  };
}

function kindOf(value: OnionSrvResult): CacheEntryKind {
  switch (value.kind) {
    case 'targets':
      return 'positive';
    case 'failure':
      return 'failure';
    case 'no-service':
    case 'no-onion-target':
    case 'nxdomain':
    case 'nodata':
      return 'negative';
  }
}

function raceAbort(shared: Promise<OnionSrvResult>, signal: AbortSignal): Promise<OnionSrvResult> {
  const abortedResult = (): OnionSrvResult => ({ kind: 'failure', reason: 'timeout', detail: `lookup aborted: ${errorMessage(signal.reason)}`, ttlMs: 0 });
  if (signal.aborted) return Promise.resolve(abortedResult());
  return new Promise((resolve) => {
    const onAbort = (): void => {
      resolve(abortedResult());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    void shared.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}
