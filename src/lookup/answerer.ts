// Decides a lookup key (a full address, a domain, `*`, a Sendmail `.parent` key) with the shared
// resolver, inside a time budget. Postfix's trivial-rewrite is single-threaded and the queue
// manager waits on it, so a lookup that needs DNS and is not done within the budget answers
// "over budget" at once (the protocols turn that into a temporary failure) and keeps resolving in
// the background: the SRV cache is warm when Postfix retries. Cached and static answers never wait.
import type { Logger } from '../log.ts';
import type { Decision } from '../resolve/types.ts';
import { parseRecipient } from '../resolve/address.ts';

/** The resolver surface lookups need (src/resolve/resolver.ts Resolver implements it). */
export interface DecisionSource {
  peekDomain(domain: string): Decision | undefined;
  resolveDomain(domain: string, signal?: AbortSignal): Promise<Decision>;
}

export interface LookupSettings {
  readonly resolver: DecisionSource;
  /** Postfix transport (and Sendmail mailer) name for route answers, e.g. `smtptor`. */
  readonly transport: string;
  /** Postfix answers name the relay (config relay.postfix_nexthop) instead of the onions. */
  readonly relayNexthop?: string | undefined;
  readonly budgetMs: number;
}

export type LookupOutcome =
  | { readonly kind: 'decision'; readonly decision: Decision }
  /** A key that is never routed and needs no lookup: `*`, `.parent` and `.`, an unparseable key. */
  | { readonly kind: 'skipped'; readonly reason: 'wildcard' | 'partial-domain' | 'invalid-key'; readonly detail?: string }
  /** DNS did not answer within the budget; the lookup goes on in the background. */
  | { readonly kind: 'over-budget'; readonly domain: string; readonly budgetMs: number };

export interface LookupAnswererOptions {
  /** Read once per lookup, so a reload takes effect for the next request. */
  readonly settings: () => LookupSettings;
  readonly log: Logger;
  /** Called with every outcome, for metrics. */
  readonly onOutcome?: (outcome: LookupOutcome, protocol: string) => void;
}

export class LookupAnswerer {
  readonly #o: LookupAnswererOptions;
  readonly #log: Logger;
  /** Uncached lookups in progress, per domain, shared by every connection and protocol. */
  readonly #inflight = new Map<string, Promise<Decision>>();

  constructor(options: LookupAnswererOptions) {
    this.#o = options;
    this.#log = options.log;
  }

  get settings(): LookupSettings {
    return this.#o.settings();
  }

  /** Number of background lookups still running (for tests and metrics). */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** Synchronous when the answer needs no DNS; never rejects. `protocol` only labels logs. */
  decide(key: string, protocol: string): LookupOutcome | Promise<LookupOutcome> {
    if (key === '*') return this.#done({ kind: 'skipped', reason: 'wildcard' }, key, protocol);
    if (key.startsWith('.')) return this.#done({ kind: 'skipped', reason: 'partial-domain' }, key, protocol);
    const parsed = parseRecipient(key);
    if (!parsed.ok) return this.#done({ kind: 'skipped', reason: 'invalid-key', detail: parsed.reason }, key, protocol);
    const settings = this.#o.settings();
    const cached = settings.resolver.peekDomain(parsed.domain);
    if (cached !== undefined) return this.#done({ kind: 'decision', decision: cached }, key, protocol);
    return this.#withinBudget(parsed.domain, settings, key, protocol);
  }

  async #withinBudget(domain: string, settings: LookupSettings, key: string, protocol: string): Promise<LookupOutcome> {
    let running = this.#inflight.get(domain);
    if (running === undefined) {
      running = this.#background(domain, settings.resolver, protocol);
      this.#inflight.set(domain, running);
    }
    let timer: NodeJS.Timeout | undefined;
    const overBudget = new Promise<LookupOutcome>((resolve) => {
      timer = setTimeout(() => {
        resolve({ kind: 'over-budget', domain, budgetMs: settings.budgetMs });
      }, settings.budgetMs);
    });
    try {
      const outcome = await Promise.race([running.then((decision): LookupOutcome => ({ kind: 'decision', decision })), overBudget]);
      return this.#done(outcome, key, protocol);
    } finally {
      clearTimeout(timer);
    }
  }

  async #background(domain: string, resolver: DecisionSource, protocol: string): Promise<Decision> {
    let decision: Decision;
    try {
      decision = await resolver.resolveDomain(domain);
    } catch (err) {
      // The resolver promises never to throw; stay fail-closed if it ever does.
      decision = { kind: 'tempfail', domain, reason: 'network', detail: err instanceof Error ? err.message : String(err), ttl: 0 };
    } finally {
      this.#inflight.delete(domain);
    }
    this.#log.debug({ domain, protocol, decision: decision.kind }, 'lookup: background resolution finished');
    return decision;
  }

  #done(outcome: LookupOutcome, key: string, protocol: string): LookupOutcome {
    this.#o.onOutcome?.(outcome, protocol);
    logOutcome(this.#log, outcome, key, protocol);
    return outcome;
  }
}

// As the milter: domains and routing results at info, the recipient address only at debug.
function logOutcome(log: Logger, outcome: LookupOutcome, key: string, protocol: string): void {
  switch (outcome.kind) {
    case 'skipped':
      if (log.isLevelEnabled('debug')) log.debug({ key, protocol, reason: outcome.reason }, 'lookup: not routed');
      return;
    case 'over-budget':
      log.info({ domain: outcome.domain, protocol, budgetMs: outcome.budgetMs }, 'lookup: over budget, answered temporary failure; resolving in the background');
      return;
    case 'decision': {
      const d = outcome.decision;
      if (log.isLevelEnabled('debug')) log.debug({ key, protocol, decision: d.kind }, 'lookup: key decided');
      if (d.kind === 'route') log.info({ domain: d.domain, protocol, route: `${d.onion}:${d.port}`, source: d.source, hops: d.hops.length }, 'lookup: route');
      else if (d.kind === 'tempfail') log.info({ domain: d.domain, protocol, reason: d.reason, detail: d.detail }, 'lookup: temporary failure');
      else if (d.kind === 'reject') log.info({ domain: d.domain, protocol, reason: d.reason }, 'lookup: invalid onion domain');
      else if (log.isLevelEnabled('debug')) log.debug({ domain: d.domain, protocol, reason: d.reason }, 'lookup: no route');
      return;
    }
  }
}
