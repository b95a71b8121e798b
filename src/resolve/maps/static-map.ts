// Merges the claims of all map files into an immutable lookup structure. The merge is per entry
// (domain), not per onion key as in onionrouter and the OnionMX Ruby script: a domain listed with
// two different targets (onion or port) anywhere is a conflict that names every place, answers
// `conflict` on lookup, and leaves the rest of the maps intact; the same target listed twice is
// only a warning.
import { normaliseDomain } from '../address.ts';
import { makeProblem } from './collector.ts';
import type { LookupTable } from './packed-table.ts';
import type { MapClaim, MapCollector } from './collector.ts';
import type {
  MapProblem,
  MapStats,
  StaticLookup,
  StaticLookupOptions,
  StaticMap,
  StaticMapEntry,
  StaticMapOptions,
} from './types.ts';

const NONE: StaticLookup = Object.freeze({ kind: 'none' });

/** Problem codes after which the maps are known to be incomplete. */
const INCOMPLETE_CODES: ReadonlySet<string> = new Set(['unreadable', 'yaml-syntax', 'not-a-mapping']);

export function buildStaticMap(collector: MapCollector, options: StaticMapOptions = {}): StaticMap {
  const byEntry = new Map<string, MapClaim[]>();
  for (const claim of collector.claims) {
    const key = entryName(claim);
    const list = byEntry.get(key);
    if (list === undefined) byEntry.set(key, [claim]);
    else list.push(claim);
  }
  const problems = [...collector.problems];
  const exact = new Map<string, StaticLookup>();
  const parents = new Map<string, StaticLookup>();
  const onions = new Set<string>();
  let conflicts = 0;
  for (const [name, claims] of byEntry) {
    const answer = resolveClaims(name, claims, problems);
    if (answer.kind === 'conflict') conflicts++;
    if (answer.kind === 'route') onions.add(answer.onion);
    const first = claims[0];
    if (first?.isParent === true) parents.set(first.domain, answer);
    else if (first !== undefined) exact.set(first.domain, answer);
  }
  const stats: MapStats = {
    files: collector.files,
    onions: onions.size,
    domains: byEntry.size - conflicts,
    skipped: collector.skipped,
    skippedOnions: collector.skippedOnions,
    conflicts,
  };
  return new CompiledStaticMap(exact, parents, problems, stats, options.parentMatch ?? false);
}

function resolveClaims(name: string, claims: readonly MapClaim[], problems: MapProblem[]): StaticLookup {
  const [first, ...rest] = claims;
  if (first === undefined) return NONE;
  const hasConflict = rest.some((c) => c.onion !== first.onion || c.port !== first.port);
  if (hasConflict) {
    const last = claims.at(-1) ?? first;
    const listing = claims.map((c) => `${place(c)} (${c.onion}:${c.port})`).join(', ');
    const reason = `${name} is mapped to different targets: ${listing}; it answers a conflict until the maps agree`;
    problems.push(makeProblem('error', 'conflict', last.file, last.line, undefined, reason));
    return Object.freeze({ kind: 'conflict', places: Object.freeze(claims.map(place)), matched: name });
  }
  for (const repeat of rest) {
    const reason = `${name} is listed again with the same target (first at ${place(first)})`;
    problems.push(makeProblem('warning', 'duplicate', repeat.file, repeat.line, undefined, reason));
  }
  return Object.freeze({ kind: 'route', onion: first.onion, port: first.port, origin: place(first), matched: name });
}

function entryName(claim: MapClaim): string {
  return claim.isParent ? `.${claim.domain}` : claim.domain;
}

function place(claim: MapClaim): string {
  return `${claim.file}:${claim.line}`;
}

/** A compiled map as plain data, to hand across a thread (load-off-thread.ts) and rebuild there. */
export interface StaticMapParts {
  readonly exact: LookupTable;
  readonly parents: LookupTable;
  readonly problems: readonly MapProblem[];
  readonly stats: MapStats;
  readonly parentMatch: boolean;
}

export function staticMapParts(map: StaticMap): StaticMapParts {
  if (!(map instanceof CompiledStaticMap)) throw new Error('staticMapParts: not a map built by buildStaticMap');
  return map.parts();
}

export function staticMapFromParts(parts: StaticMapParts): StaticMap {
  return new CompiledStaticMap(parts.exact, parts.parents, parts.problems, parts.stats, parts.parentMatch);
}

class CompiledStaticMap implements StaticMap {
  readonly problems: readonly MapProblem[];
  readonly stats: MapStats;
  readonly isComplete: boolean;
  readonly #exact: LookupTable;
  readonly #parents: LookupTable;
  readonly #parentMatch: boolean;
  #entries: readonly StaticMapEntry[] | undefined;

  constructor(
    exact: LookupTable,
    parents: LookupTable,
    problems: readonly MapProblem[],
    stats: MapStats,
    parentMatch: boolean,
  ) {
    this.#exact = exact;
    this.#parents = parents;
    this.#parentMatch = parentMatch;
    this.problems = Object.freeze(problems.map((p) => Object.freeze(p)));
    this.stats = Object.freeze(stats);
    this.isComplete = !problems.some((p) => INCOMPLETE_CODES.has(p.code));
  }

  parts(): StaticMapParts {
    return { exact: this.#exact, parents: this.#parents, problems: this.problems, stats: this.stats, parentMatch: this.#parentMatch };
  }

  lookup(domain: string, options?: StaticLookupOptions): StaticLookup {
    const checked = normaliseDomain(domain);
    if (!checked.ok) return NONE;
    return this.lookupNormalised(checked.domain, options);
  }

  lookupNormalised(name: string, options?: StaticLookupOptions): StaticLookup {
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const parentMatch = options?.parentMatch ?? this.#parentMatch;
    if (this.#parents.size === 0 && !parentMatch) return NONE;
    for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      const parent = name.slice(dot + 1);
      const answer = this.#parents.get(parent) ?? (parentMatch ? this.#exact.get(parent) : undefined);
      if (answer !== undefined) return answer;
    }
    return NONE;
  }

  entries(): readonly StaticMapEntry[] {
    this.#entries ??= Object.freeze(this.#collectEntries());
    return this.#entries;
  }

  #collectEntries(): StaticMapEntry[] {
    const all: StaticMapEntry[] = [];
    const add = (domain: string, answer: StaticLookup): void => {
      if (answer.kind === 'route') {
        all.push(Object.freeze({ domain, kind: 'route', onion: answer.onion, port: answer.port, origin: answer.origin }));
      } else if (answer.kind === 'conflict') {
        all.push(Object.freeze({ domain, kind: 'conflict', places: answer.places }));
      }
    };
    for (const [domain, answer] of this.#exact.entries()) add(domain, answer);
    for (const [domain, answer] of this.#parents.entries()) add(`.${domain}`, answer);
    return all.sort((a, b) => compareDomains(a.domain, b.domain));
  }
}

/** Sorts by domain with the parent entry `.x` next to `x`. */
function compareDomains(a: string, b: string): number {
  const plainA = a.startsWith('.') ? a.slice(1) : a;
  const plainB = b.startsWith('.') ? b.slice(1) : b;
  if (plainA !== plainB) return plainA < plainB ? -1 : 1;
  return a.length - b.length;
}
