// The one place that decides a route. Order of sources (first that answers wins):
//   1. `.onion` recipient domains route to themselves when they are valid v3 (never looked up in DNS),
//      and are rejected permanently otherwise;
//   2. local and ignored domains are never rerouted;
//   3. the operator's own maps (pinned: no DNSSEC needed); a domain pinned to two onions tempfails;
//   4. DNSSEC-authenticated SRV answers;
//   5. the bundled upstream OnionMX map (third-party and dated: it must not override 4);
//   6. unauthenticated SRV answers, only under `dnssec: optional`.
// A temporary DNS failure tempfails (unless `on_lookup_failure: none`), so mail is deferred and
// never leaks to the clearnet because a lookup broke. The resolver never throws.
import type { Decision, OnionTarget, TempfailReason } from './types.ts';
import { parseRecipient } from './address.ts';
import { isOnionName, validateOnionCached } from './onion.ts';

export type StaticLookup =
  | { readonly kind: 'route'; readonly onion: string; readonly port: number; readonly origin: string }
  | { readonly kind: 'conflict'; readonly places: readonly string[] }
  | { readonly kind: 'none' };

export interface StaticSource {
  /** The domain is already normalised (lower-case A-labels, no trailing dot). */
  lookupNormalised(domain: string): StaticLookup;
}

/** What DNS said about `_onion-mx._tcp.<domain>`, already filtered to valid v3 targets and ordered. */
export type SrvOutcome =
  | {
      readonly kind: 'targets';
      readonly targets: readonly OnionTarget[];
      readonly authenticated: boolean;
      readonly ttlMs: number;
      readonly origin: string;
    }
  /** A lone `.` target: the domain says it has no onion service. */
  | { readonly kind: 'no-service'; readonly authenticated: boolean; readonly ttlMs: number }
  /** Records exist, but no target is a valid v3 onion. */
  | { readonly kind: 'no-onion-target'; readonly authenticated: boolean; readonly ttlMs: number; readonly detail: string }
  | { readonly kind: 'nxdomain' | 'nodata'; readonly ttlMs: number }
  | { readonly kind: 'failure'; readonly reason: TempfailReason; readonly detail: string; readonly ttlMs: number };

export interface SrvSource {
  /** Answers from the cache without I/O, or undefined when a DNS query would be needed. */
  cached(domain: string): SrvOutcome | undefined;
  lookup(domain: string, signal?: AbortSignal): Promise<SrvOutcome>;
}

export interface ResolverOptions {
  readonly operatorMaps: StaticSource;
  readonly bundledMap?: StaticSource | undefined;
  /** Undefined when SRV lookups are disabled. */
  readonly srv?: SrvSource | undefined;
  readonly dnssec: 'required' | 'optional';
  readonly localDomains?: readonly string[];
  readonly ignoreDomains?: readonly string[];
  readonly onLookupFailure?: 'tempfail' | 'none';
  /** Seconds a static or onion-domain decision may be cached by callers. */
  readonly staticTtl?: number;
}

const ONION_PORT = 25;

export class Resolver {
  readonly #o: ResolverOptions;
  readonly #local: DomainSet;
  readonly #ignore: DomainSet;
  readonly #staticTtl: number;

  constructor(options: ResolverOptions) {
    this.#o = options;
    this.#local = new DomainSet(options.localDomains ?? []);
    this.#ignore = new DomainSet(options.ignoreDomains ?? []);
    this.#staticTtl = options.staticTtl ?? 300;
  }

  /** Decides a domain or address. Never throws; a rejected or aborted lookup becomes `tempfail`. */
  async resolve(input: string, signal?: AbortSignal): Promise<Decision> {
    const parsed = parseRecipient(input);
    if (!parsed.ok) return { kind: 'none', domain: input, reason: 'invalid-input', detail: parsed.reason, ttl: 0 };
    return this.resolveDomain(parsed.domain, signal);
  }

  /** Like resolve, for a domain that is already normalised (lower-case A-labels, no trailing dot). */
  async resolveDomain(domain: string, signal?: AbortSignal): Promise<Decision> {
    const early = this.#beforeDns(domain);
    if (early !== undefined) return early;
    const srv = this.#o.srv;
    if (srv === undefined) return this.#afterSrv(domain, undefined);
    let outcome = srv.cached(domain);
    if (outcome === undefined) {
      try {
        outcome = await srv.lookup(domain, signal);
      } catch (err) {
        outcome = { kind: 'failure', reason: 'network', detail: err instanceof Error ? err.message : String(err), ttlMs: 0 };
      }
    }
    return this.#afterSrv(domain, outcome);
  }

  /** peekDomain for a domain or address as resolve() takes it: the synchronous answer when no I/O is needed. */
  peek(input: string): Decision | undefined {
    const parsed = parseRecipient(input);
    if (!parsed.ok) return { kind: 'none', domain: input, reason: 'invalid-input', detail: parsed.reason, ttl: 0 };
    return this.peekDomain(parsed.domain);
  }

  /** Decides without any I/O when it can (static, local, cached DNS); undefined means resolve() must query DNS. */
  peekDomain(domain: string): Decision | undefined {
    const early = this.#beforeDns(domain);
    if (early !== undefined) return early;
    const srv = this.#o.srv;
    if (srv === undefined) return this.#afterSrv(domain, undefined);
    const outcome = srv.cached(domain);
    return outcome === undefined ? undefined : this.#afterSrv(domain, outcome);
  }

  #beforeDns(domain: string): Decision | undefined {
    if (isOnionName(domain)) {
      const v = validateOnionCached(domain);
      if (!v.ok) return { kind: 'reject', domain, reason: v.reason };
      return this.#route(domain, { onion: v.onion, port: ONION_PORT }, 'onion-domain', false, this.#staticTtl, [], domain);
    }
    if (this.#local.has(domain)) return { kind: 'none', domain, reason: 'local-domain', ttl: this.#staticTtl };
    if (this.#ignore.has(domain)) return { kind: 'none', domain, reason: 'ignored-domain', ttl: this.#staticTtl };
    const pinned = this.#o.operatorMaps.lookupNormalised(domain);
    if (pinned.kind === 'route') return this.#static(domain, pinned);
    if (pinned.kind === 'conflict') {
      return { kind: 'tempfail', domain, reason: 'conflicting-pins', detail: `pinned to different onions at ${pinned.places.join(' and ')}`, ttl: 0 };
    }
    return undefined;
  }

  #afterSrv(domain: string, outcome: SrvOutcome | undefined): Decision {
    const ttlOf = (ms: number): number => Math.max(0, Math.floor(ms / 1000));
    if (outcome?.kind === 'targets' && outcome.authenticated) {
      const [first] = outcome.targets;
      if (first !== undefined) return this.#route(domain, first, 'srv', true, ttlOf(outcome.ttlMs), outcome.targets, outcome.origin);
    }
    if ((outcome?.kind === 'no-service' || outcome?.kind === 'no-onion-target') && outcome.authenticated) {
      // The domain says, under DNSSEC, that it has no usable onion service: that beats a dated map.
      return outcome.kind === 'no-service'
        ? { kind: 'none', domain, reason: 'no-service', ttl: ttlOf(outcome.ttlMs) }
        : { kind: 'none', domain, reason: 'no-onion-target', detail: outcome.detail, ttl: ttlOf(outcome.ttlMs) };
    }
    if (outcome?.kind === 'failure' && this.#o.onLookupFailure !== 'none') {
      return { kind: 'tempfail', domain, reason: outcome.reason, detail: outcome.detail, ttl: ttlOf(outcome.ttlMs) };
    }
    const bundled = this.#o.bundledMap?.lookupNormalised(domain);
    if (bundled?.kind === 'route') return this.#static(domain, bundled);
    if (bundled?.kind === 'conflict') {
      return { kind: 'tempfail', domain, reason: 'conflicting-pins', detail: `the bundled map pins it to different onions at ${bundled.places.join(' and ')}`, ttl: 0 };
    }
    if (outcome === undefined) return { kind: 'none', domain, reason: 'not-listed', ttl: this.#staticTtl };
    switch (outcome.kind) {
      case 'targets': {
        const [first] = outcome.targets;
        if (this.#o.dnssec === 'optional' && first !== undefined) {
          return this.#route(domain, first, 'srv', false, ttlOf(outcome.ttlMs), outcome.targets, outcome.origin);
        }
        return { kind: 'none', domain, reason: 'unauthenticated', detail: 'the SRV answer was not DNSSEC-authenticated and dns.dnssec is required', ttl: ttlOf(outcome.ttlMs) };
      }
      case 'no-service':
        return { kind: 'none', domain, reason: 'no-service', ttl: ttlOf(outcome.ttlMs) };
      case 'no-onion-target':
        return { kind: 'none', domain, reason: 'no-onion-target', detail: outcome.detail, ttl: ttlOf(outcome.ttlMs) };
      case 'nxdomain':
        return { kind: 'none', domain, reason: 'nxdomain', ttl: ttlOf(outcome.ttlMs) };
      case 'nodata':
        return { kind: 'none', domain, reason: 'no-srv', ttl: ttlOf(outcome.ttlMs) };
      case 'failure':
        return { kind: 'none', domain, reason: 'lookup-failed-ignored', detail: `${outcome.reason}: ${outcome.detail}`, ttl: ttlOf(outcome.ttlMs) };
    }
  }

  #static(domain: string, hit: { readonly onion: string; readonly port: number; readonly origin: string }): Decision {
    const target = { onion: hit.onion, port: hit.port };
    return this.#route(domain, target, 'static', false, this.#staticTtl, [target], hit.origin);
  }

  #route(
    domain: string,
    first: OnionTarget,
    source: 'static' | 'srv' | 'onion-domain',
    dnssec: boolean,
    ttl: number,
    hops: readonly OnionTarget[],
    origin: string,
  ): Decision {
    return { kind: 'route', domain, onion: first.onion, port: first.port, source, dnssec, ttl, hops: hops.length > 0 ? hops : [first], origin };
  }
}

/** Exact domains, plus `.parent` entries that match every subdomain of parent. */
class DomainSet {
  readonly #exact = new Set<string>();
  readonly #parents: string[] = [];
  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const d = e.toLowerCase().replace(/\.$/, '');
      if (d.startsWith('.')) this.#parents.push(d);
      else this.#exact.add(d);
    }
  }
  has(domain: string): boolean {
    if (this.#exact.has(domain)) return true;
    for (const p of this.#parents) if (domain.endsWith(p)) return true;
    return false;
  }
}
