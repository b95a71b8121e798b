// What the resolver answers. Every front end (milter, lookup servers, CLI) consumes these values;
// the resolver never throws for bad input, it answers `none` or `reject` with a reason.

/** A validated v3 onion host (`<56 base32>.onion`, lower case) and a TCP port. */
export interface OnionTarget {
  readonly onion: string;
  readonly port: number;
}

export type RouteSource = 'static' | 'srv' | 'onion-domain';

export interface RouteDecision {
  readonly kind: 'route';
  /** The normalised (lower-case A-label, no trailing dot) recipient domain. */
  readonly domain: string;
  readonly onion: string;
  readonly port: number;
  readonly source: RouteSource;
  /** True when a DNSSEC-validating resolver we trust authenticated the SRV answer (AD bit). */
  readonly dnssec: boolean;
  /** Seconds this decision may be cached. */
  readonly ttl: number;
  /** All usable next hops in preference order; the first equals onion/port. */
  readonly hops: readonly OnionTarget[];
  /** Where the route came from: `file:line` for maps, the SRV owner name for DNS. */
  readonly origin: string;
}

export type NoneReason =
  | 'not-listed'
  | 'nxdomain'
  | 'no-srv'
  | 'no-service'
  | 'no-onion-target'
  | 'unauthenticated'
  | 'local-domain'
  | 'ignored-domain'
  | 'invalid-input'
  | 'lookup-failed-ignored'
  /** The route's onion failed its recent health probes and health.on_unreachable is `clearnet`. */
  | 'onion-unreachable';

export interface NoneDecision {
  readonly kind: 'none';
  readonly domain: string;
  readonly reason: NoneReason;
  readonly detail?: string;
  readonly ttl: number;
}

export type TempfailReason =
  | 'servfail'
  | 'timeout'
  | 'truncated'
  | 'refused'
  | 'malformed-reply'
  | 'network'
  | 'conflicting-pins'
  | 'bogus'
  /** The route's onion failed its recent health probes and health.on_unreachable is `defer`. */
  | 'onion-unreachable';

export interface TempfailDecision {
  readonly kind: 'tempfail';
  readonly domain: string;
  readonly reason: TempfailReason;
  readonly detail?: string;
  readonly ttl: number;
}

/** The recipient domain is itself an invalid `.onion`: answer a permanent error, never look it up. */
export interface RejectDecision {
  readonly kind: 'reject';
  readonly domain: string;
  readonly reason: string;
}

export type Decision = RouteDecision | NoneDecision | TempfailDecision | RejectDecision;
