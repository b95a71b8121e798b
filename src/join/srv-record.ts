// The `_onion-mx._tcp` SRV record an operator publishes for a mail domain. Pure: validates the
// domain (normalised A-labels) and every onion (full v3 checks) and renders zone-file lines.
import { normaliseDomain } from '../resolve/address.ts';
import { isOnionName, validateOnion } from '../resolve/onion.ts';
import { ONION_MX_SERVICE } from '../resolve/srv.ts';

export interface SrvRecordRequest {
  readonly domain: string;
  readonly onions: readonly string[];
  readonly port: number;
  readonly ttl: number;
  readonly priority: number;
  readonly weight: number;
}

export interface SrvRecordLine {
  /** The owner name, fully qualified with the trailing dot. */
  readonly owner: string;
  /** The validated service host, fully qualified with the trailing dot. */
  readonly target: string;
  /** `owner ttl IN SRV priority weight port target`. */
  readonly text: string;
}

export type SrvRecordResult =
  | { readonly ok: true; readonly domain: string; readonly lines: readonly SrvRecordLine[]; readonly notes: readonly string[] }
  | { readonly ok: false; readonly kind: 'usage' | 'data'; readonly reason: string };

export const SRV_DEFAULTS = { port: 25, ttl: 3600, priority: 0, weight: 5 } as const;

/** RFC 2181 §8: a TTL is an unsigned 31-bit number. */
const MAX_TTL = 2 ** 31 - 1;
const MAX_U16 = 65535;

export function buildSrvRecord(request: SrvRecordRequest): SrvRecordResult {
  const numberProblem =
    rangeProblem('port', request.port, 1, MAX_U16) ??
    rangeProblem('ttl', request.ttl, 0, MAX_TTL) ??
    rangeProblem('priority', request.priority, 0, MAX_U16) ??
    rangeProblem('weight', request.weight, 0, MAX_U16);
  if (numberProblem !== undefined) return { ok: false, kind: 'usage', reason: numberProblem };
  if (isOnionName(request.domain)) {
    return { ok: false, kind: 'data', reason: `the domain '${request.domain}' is an .onion name; give the mail domain whose mail the onion service receives` };
  }
  const domain = normaliseDomain(request.domain);
  if (!domain.ok) return { ok: false, kind: 'data', reason: `invalid domain '${request.domain}': ${domain.reason}` };
  if (request.onions.length === 0) return { ok: false, kind: 'usage', reason: 'no onion given' };
  const notes: string[] = [];
  const owner = `${ONION_MX_SERVICE}.${domain.domain}.`;
  const lines: SrvRecordLine[] = [];
  for (const given of request.onions) {
    const onion = validateOnion(given);
    if (!onion.ok) return { ok: false, kind: 'data', reason: `invalid onion '${given}': ${onion.reason}` };
    const plain = given.toLowerCase().replace(/\.$/, '');
    if (plain !== onion.onion) notes.push(`'${given}' is published as its service host ${onion.onion}`);
    if (lines.some((l) => l.target === `${onion.onion}.`)) return { ok: false, kind: 'data', reason: `onion ${onion.onion} is given twice` };
    const target = `${onion.onion}.`;
    lines.push({ owner, target, text: `${owner} ${request.ttl} IN SRV ${request.priority} ${request.weight} ${request.port} ${target}` });
  }
  if (request.ttl < 300) notes.push(`a TTL of ${request.ttl} s makes every sender look the record up again and again; 3600 is usual`);
  if (request.weight === 0 && lines.length > 1) notes.push('weight 0 on several records: RFC 2782 gives them very little selection chance; use a positive weight to share load');
  return { ok: true, domain: domain.domain, lines, notes };
}

function rangeProblem(name: string, value: number, min: number, max: number): string | undefined {
  if (!Number.isInteger(value) || value < min || value > max) return `--${name} must be an integer from ${min} to ${max}, got ${String(value)}`;
  return undefined;
}

/** Parses a decimal option value strictly (no signs, exponents, hex or blanks); NaN when invalid. */
export function parseDecimal(text: string): number {
  return /^[0-9]{1,10}$/.test(text) ? Number(text) : Number.NaN;
}
