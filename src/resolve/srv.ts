// `_onion-mx._tcp.<domain>` SRV lookup: one DNS question, interpreted into an SrvOutcome with the
// targets already validated and ordered (RFC 2782), TTLs per RFC 2308 for negatives. Never throws.
import type { Answer, StringAnswer } from 'dns-packet';
import type { OnionTarget, TempfailReason } from './types.ts';
import type { SrvOutcome } from './resolver.ts';
import type { DnsFailureReason, DnsReply, StubResolver } from './dns/stub-resolver.ts';
import { sameName } from './dns/names.ts';
import { orderSrvRecords, defaultRandomInt, type RandomInt, type SrvRecord } from './srv-select.ts';
import { validateOnionCached } from './onion.ts';
import { silentLogger, type Logger } from '../log.ts';

export const ONION_MX_SERVICE = '_onion-mx._tcp';

/** RFC 2308 §5 has no SOA to go by: cache the negative answer this long. */
export const NEGATIVE_TTL_WITHOUT_SOA_SECONDS = 300;

/** CNAME hops we follow inside one answer section (we never issue queries to chase them). */
const MAX_CNAME_HOPS = 8;

export type ValidateTarget = (host: string) => { readonly ok: true; readonly onion: string } | { readonly ok: false; readonly reason: string };

/** A target we did not use, and why (clearnet host, v2 onion, bad checksum, port 0, ...). */
export interface RejectedTarget {
  readonly target: string;
  readonly port: number;
  readonly reason: string;
}

/**
 * What lookupOnionSrv answers: the resolver's SrvOutcome, plus the records as received and the
 * targets we dropped. `stale` marks a positive answer served past its TTL because DNS failed.
 */
export type OnionSrvResult =
  | (Extract<SrvOutcome, { kind: 'targets' }> & { readonly records: readonly SrvRecord[]; readonly rejected: readonly RejectedTarget[]; readonly stale?: true })
  | (Extract<SrvOutcome, { kind: 'no-onion-target' }> & { readonly records: readonly SrvRecord[]; readonly rejected: readonly RejectedTarget[] })
  | Exclude<SrvOutcome, { kind: 'targets' | 'no-onion-target' }>;

export interface SrvLookupDeps {
  readonly resolver: Pick<StubResolver, 'query'>;
  /** Default: the full v3 validation of ./onion.ts. */
  readonly validateTarget?: ValidateTarget;
  /** For the weighted order; default crypto.randomInt. */
  readonly randomInt?: RandomInt;
  /** Default `_onion-mx._tcp`. */
  readonly service?: string;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

/**
 * Looks up `<service>.<domain>` SRV and orders its usable onion targets. The order is drawn once
 * here; cache the result so every recipient of a domain gets the same onion while it lives.
 * `domain` must already be normalised (the facade never passes `.onion` names; the stub refuses them).
 */
export async function lookupOnionSrv(domain: string, deps: SrvLookupDeps): Promise<OnionSrvResult> {
  const owner = `${deps.service ?? ONION_MX_SERVICE}.${domain}`;
  const reply = await deps.resolver.query(owner, 'SRV', deps.signal === undefined ? {} : { signal: deps.signal });
  if (!reply.ok) return { kind: 'failure', reason: tempfailReason(reply.reason), detail: reply.detail, ttlMs: 0 };
  if (reply.rcode === 'NXDOMAIN') return { kind: 'nxdomain', ttlMs: negativeTtlSeconds(reply.authorities) * 1000 };

  const chain = followCnames(owner, reply.answers);
  if (chain === undefined) return { kind: 'failure', reason: 'malformed-reply', detail: `CNAME loop or chain over ${MAX_CNAME_HOPS} hops in the answer for ${owner}`, ttlMs: 0 };
  const rrs = reply.answers.filter((rr): rr is Extract<Answer, { type: 'SRV' }> => rr.type === 'SRV' && sameName(rr.name, chain.name));
  if (rrs.length === 0) {
    return { kind: 'nodata', ttlMs: Math.min(negativeTtlSeconds(reply.authorities), chain.ttl) * 1000 };
  }
  const ttlMs = Math.min(chain.ttl, ...rrs.map((rr) => rr.ttl ?? 0)) * 1000;
  const records: SrvRecord[] = rrs.map((rr) => ({ priority: rr.data.priority ?? 0, weight: rr.data.weight ?? 0, port: rr.data.port, target: rr.data.target }));
  return interpretRecords(owner, reply, records, ttlMs, deps);
}

function interpretRecords(owner: string, reply: DnsReply, records: readonly SrvRecord[], ttlMs: number, deps: SrvLookupDeps): OnionSrvResult {
  const authenticated = reply.authenticated;
  // RFC 2782: 'A Target of "." means that the service is decidedly not available at this domain.'
  if (records.length === 1 && isRoot(records[0]?.target ?? '')) return { kind: 'no-service', authenticated, ttlMs };
  const validate = deps.validateTarget ?? validateOnionCached;
  const usable: SrvRecord[] = [];
  const rejected: RejectedTarget[] = [];
  for (const r of records) {
    const why = isRoot(r.target) ? '"." mixed with other records' : r.port === 0 ? 'port 0' : undefined;
    const check = why === undefined ? validate(r.target) : { ok: false as const, reason: why };
    if (check.ok) usable.push({ ...r, target: check.onion });
    else rejected.push({ target: r.target, port: r.port, reason: check.reason });
  }
  if (rejected.length > 0) (deps.logger ?? silentLogger()).info({ owner, rejected }, 'ignored SRV targets that are not usable v3 onions');
  if (usable.length === 0) {
    const detail = rejected.map((r) => `${r.target}: ${r.reason}`).join('; ');
    return { kind: 'no-onion-target', authenticated, ttlMs, detail, records, rejected };
  }
  const targets: OnionTarget[] = [];
  for (const r of orderSrvRecords(usable, deps.randomInt ?? defaultRandomInt)) {
    if (!targets.some((t) => t.onion === r.target && t.port === r.port)) targets.push({ onion: r.target, port: r.port });
  }
  return { kind: 'targets', targets, authenticated, ttlMs, origin: owner, records, rejected };
}

/**
 * RFC 2308 §5: the negative TTL is the minimum of the SOA record's own TTL and its MINIMUM field.
 * Without an SOA in the authority section we fall back to a fixed 300 s.
 */
export function negativeTtlSeconds(authorities: readonly Answer[]): number {
  const soa = authorities.find((rr): rr is Extract<Answer, { type: 'SOA' }> => rr.type === 'SOA');
  if (soa === undefined) return NEGATIVE_TTL_WITHOUT_SOA_SECONDS;
  return Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0);
}

/** Walks CNAMEs present in the answer section, starting at the owner: the final name and the chain's min TTL. */
function followCnames(owner: string, answers: readonly Answer[]): { name: string; ttl: number } | undefined {
  let name = owner;
  let ttl = Number.POSITIVE_INFINITY;
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const cname = answers.find((rr): rr is StringAnswer => rr.type === 'CNAME' && sameName(rr.name, name));
    if (cname === undefined) return { name, ttl };
    name = cname.data;
    ttl = Math.min(ttl, cname.ttl ?? 0);
  }
  return undefined;
}

function isRoot(target: string): boolean {
  return target === '.' || target === '';
}

const TEMPFAIL_REASON: Record<DnsFailureReason, TempfailReason> = {
  servfail: 'servfail',
  bogus: 'bogus',
  refused: 'refused',
  timeout: 'timeout',
  truncated: 'truncated',
  'malformed-reply': 'malformed-reply',
  network: 'network',
  aborted: 'timeout',
  'invalid-name': 'refused',
};

function tempfailReason(reason: DnsFailureReason): TempfailReason {
  return TEMPFAIL_REASON[reason];
}
