// Accumulates what the map readers find across all files of one load: claims (domain -> target
// at file:line), problems, and counts. Onions are validated once per load, not once per listing.
import { normaliseDomain } from '../address.ts';
import { isOnionName, validateOnion } from '../onion.ts';
import type { OnionValidation } from '../onion.ts';
import type { MapProblem, MapProblemCode } from './types.ts';

/** One listing of a domain in a map file. */
export interface MapClaim {
  /** Normalised domain; for a parent entry the parent (without the dot). */
  readonly domain: string;
  readonly isParent: boolean;
  readonly onion: string;
  readonly port: number;
  readonly file: string;
  readonly line: number;
}

export type DomainEntry =
  | { readonly ok: true; readonly domain: string; readonly isParent: boolean }
  | { readonly ok: false; readonly reason: string };

export const DEFAULT_ONION_PORT = 25;

export class MapCollector {
  readonly claims: MapClaim[] = [];
  readonly problems: MapProblem[] = [];
  files = 0;
  skipped = 0;
  readonly #invalidOnions = new Set<string>();
  readonly #validations = new Map<string, OnionValidation>();

  get skippedOnions(): number {
    return this.#invalidOnions.size;
  }

  /** Validates an onion, remembering the answer for the rest of this load. */
  validateOnion(onion: string): OnionValidation {
    const known = this.#validations.get(onion);
    if (known !== undefined) return known;
    const result = validateOnion(onion);
    this.#validations.set(onion, result);
    if (!result.ok) this.#invalidOnions.add(onion.toLowerCase());
    return result;
  }

  claim(claim: MapClaim): void {
    this.claims.push(claim);
  }

  warn(code: MapProblemCode, file: string, line: number | undefined, reason: string): void {
    this.problems.push(makeProblem('warning', code, file, line, undefined, reason));
  }

  error(code: MapProblemCode, file: string, line: number | undefined, reason: string, column?: number): void {
    this.problems.push(makeProblem('error', code, file, line, column, reason));
  }
}

export function makeProblem(
  severity: MapProblem['severity'],
  code: MapProblemCode,
  file: string,
  line: number | undefined,
  column: number | undefined,
  reason: string,
): MapProblem {
  const where = line === undefined ? file : column === undefined ? `${file}:${line}` : `${file}:${line}:${column}`;
  return {
    severity,
    code,
    file,
    ...(line === undefined ? {} : { line }),
    ...(column === undefined ? {} : { column }),
    reason,
    message: `${where}: ${reason}`,
  };
}

/**
 * Parses a domain as written in a map: `example.org`, or `.example.org` / `*.example.org` for a
 * parent entry that matches every subdomain (but not example.org itself).
 */
export function parseDomainEntry(text: string): DomainEntry {
  const isParent = text.startsWith('.') || text.startsWith('*.');
  const name = isParent ? text.slice(text.indexOf('.') + 1) : text;
  const checked = normaliseDomain(name);
  if (!checked.ok) return { ok: false, reason: checked.reason };
  if (isOnionName(checked.domain)) {
    return { ok: false, reason: '.onion recipients are routed directly and cannot be mapped' };
  }
  return { ok: true, domain: checked.domain, isParent };
}

/** `a list`, `a number`, `null` … for messages about wrong value types. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${quote(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `the ${typeof value} ${String(value)}`;
  }
  return typeof value;
}

/** Quotes text for a message, escaping control characters and capping its length. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text).replace(/^"|"$/g, "'");
}

export function isPlainMapping(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
