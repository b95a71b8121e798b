// --verify-srv for `map check`: each reviewed (onion, domain) pair against the domain's published
// `_onion-mx._tcp` records, as the unmerged OnionMX mapcheck.py proposed. Never throws.
import type { OnionSrvResult } from '../resolve/srv.ts';
import type { ReviewedEntry } from './map-review.ts';

export type SrvCheckCode = 'srv-match' | 'srv-mismatch' | 'srv-missing' | 'srv-lookup-failed';

export interface SrvCheck {
  readonly entry: ReviewedEntry;
  readonly code: SrvCheckCode;
  readonly reason: string;
}

export type SrvLookup = (domain: string) => Promise<OnionSrvResult>;

const CONCURRENCY = 8;

export async function checkEntriesAgainstSrv(entries: readonly ReviewedEntry[], lookup: SrvLookup): Promise<SrvCheck[]> {
  const results: SrvCheck[] = new Array<SrvCheck>(entries.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < entries.length; i = next++) {
      const entry = entries[i];
      if (entry === undefined) continue;
      results[i] = judge(entry, await lookup(entry.domain));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, entries.length) }, worker));
  return results;
}

function judge(entry: ReviewedEntry, r: OnionSrvResult): SrvCheck {
  const dnssec = (authenticated: boolean): string => (authenticated ? 'DNSSEC-authenticated' : 'not DNSSEC-authenticated');
  switch (r.kind) {
    case 'targets': {
      const published = r.targets.map((t) => (t.port === 25 ? t.onion : `${t.onion}:${t.port}`)).join(', ');
      if (r.targets.some((t) => t.onion === entry.onion)) return { entry, code: 'srv-match', reason: `${entry.domain}: SRV record names this onion (${dnssec(r.authenticated)})` };
      return { entry, code: 'srv-mismatch', reason: `${entry.domain} is mapped to ${entry.onion}, but its SRV record (${dnssec(r.authenticated)}) names ${published}` };
    }
    case 'no-onion-target':
      return { entry, code: 'srv-mismatch', reason: `${entry.domain}: its SRV record names no usable v3 onion (${r.detail})` };
    case 'no-service':
      return { entry, code: 'srv-mismatch', reason: `${entry.domain}: its SRV record is "." (${dnssec(r.authenticated)}): the domain says it has no onion service` };
    case 'nxdomain':
    case 'nodata':
      return { entry, code: 'srv-missing', reason: `${entry.domain} publishes no _onion-mx._tcp record (${r.kind === 'nxdomain' ? 'NXDOMAIN' : 'no SRV data'}); the map entry cannot be checked against DNS` };
    case 'failure':
      return { entry, code: 'srv-lookup-failed', reason: `${entry.domain}: SRV lookup failed (${r.reason}: ${r.detail})` };
  }
}
