// Review of OnionMX map.yml files the way a maintainer reviews a pull request. Stricter than the
// loader (src/resolve/maps), which accepts what it can: here every deviation from the schema is a
// problem with file, line and reason. Pure: texts in, problems out.
//
// Rules: well-formed YAML holding one mapping; keys are v3 onions, fully validated, written in
// canonical form; values are non-empty lists of valid, normalised mail domains, sorted; no domain
// (and no onion) listed twice across all files reviewed together; and, when the header comment
// asks for alphabetical order, the onion keys sorted.
import { parseYamlWithLines } from '../resolve/maps/yaml-lines.ts';
import { validateOnion, isOnionName } from '../resolve/onion.ts';
import { normaliseDomain } from '../resolve/address.ts';

export type ReviewCode =
  | 'yaml-syntax'
  | 'not-a-mapping'
  | 'empty'
  | 'v2-onion'
  | 'invalid-onion'
  | 'non-canonical-onion'
  | 'null-value'
  | 'bad-value'
  | 'empty-list'
  | 'invalid-domain'
  | 'non-canonical-domain'
  | 'duplicate-domain'
  | 'duplicate-onion'
  | 'domains-unsorted'
  | 'keys-unsorted';

export interface ReviewProblem {
  readonly file: string;
  readonly line: number;
  readonly code: ReviewCode;
  readonly reason: string;
}

/** One (onion, domain) pair that passed review, for --verify-srv. */
export interface ReviewedEntry {
  readonly file: string;
  readonly line: number;
  readonly onion: string;
  readonly domain: string;
}

export interface MapReview {
  readonly problems: readonly ReviewProblem[];
  /** Pairs whose onion is a valid v3 address and whose domain is valid. */
  readonly entries: readonly ReviewedEntry[];
}

export interface MapSource {
  readonly file: string;
  readonly text: string;
}

/** Reviews files together: duplicates are looked for across all of them. */
export function reviewMaps(sources: readonly MapSource[]): MapReview {
  const review = new Review();
  for (const source of sources) review.file(source.file, source.text);
  const order = new Map(sources.map((s, i) => [s.file, i]));
  // Stable: problems of one line keep the order they were found in.
  const problems = [...review.problems].sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line);
  return { problems, entries: review.entries };
}

export function formatReviewProblem(p: ReviewProblem): string {
  return `${p.file}:${p.line}: ${p.reason}`;
}

class Review {
  readonly problems: ReviewProblem[] = [];
  readonly entries: ReviewedEntry[] = [];
  readonly #domains = new Map<string, string>();
  readonly #onions = new Map<string, string>();

  file(file: string, text: string): void {
    const add = (line: number, code: ReviewCode, reason: string): void => {
      this.problems.push({ file, line, code, reason });
    };
    const parsed = parseYamlWithLines(text, file);
    if (!parsed.ok) {
      add(parsed.line, 'yaml-syntax', `invalid YAML (column ${parsed.column}): ${parsed.reason}`);
      return;
    }
    const { value, lines } = parsed;
    if (value === null || value === undefined || (isMapping(value) && Object.keys(value).length === 0)) {
      add(value === null || value === undefined ? 1 : lines.line, 'empty', 'the file holds no entries');
      return;
    }
    if (!isMapping(value)) {
      add(lines.line, 'not-a-mapping', `the top level must be a mapping of onion -> [domains], got ${describe(value)}`);
      return;
    }
    const keyLines: { key: string; line: number }[] = [];
    for (const [key, domains] of Object.entries(value)) {
      const info = lines.keys?.get(key);
      const keyLine = info?.keyLine ?? lines.line;
      keyLines.push({ key, line: keyLine });
      const onion = this.#key(key, keyLine, add, file);
      this.#value(key, domains, keyLine, info?.value.items?.map((i) => i.line) ?? [], onion, add, file);
    }
    if (asksForAlphabeticalOrder(text)) checkKeyOrder(keyLines, add);
  }

  /** Answers the validated onion when the key may route (v3, valid). */
  #key(key: string, line: number, add: (line: number, code: ReviewCode, reason: string) => void, file: string): string | undefined {
    if (!isOnionName(key)) {
      add(line, 'invalid-onion', `key '${key}' is not an .onion address; keys are onion services, values list their domains`);
      return undefined;
    }
    const v = validateOnion(key);
    if (!v.ok) {
      add(line, v.kind === 'v2' ? 'v2-onion' : 'invalid-onion', `onion '${key}': ${v.kind === 'v2' ? 'v2 address; v2 onion services no longer work in Tor, remove it or replace it with the v3 address' : v.reason}`);
      return undefined;
    }
    if (v.onion !== key) add(line, 'non-canonical-onion', `onion '${key}' must be written as '${v.onion}' (lower case, no subdomain, no trailing dot)`);
    const first = this.#onions.get(v.onion);
    if (first !== undefined) add(line, 'duplicate-onion', `onion ${v.onion} is already listed at ${first}; list each onion once with all its domains`);
    else this.#onions.set(v.onion, `${file}:${line}`);
    return v.onion;
  }

  #value(key: string, value: unknown, keyLine: number, itemLines: readonly number[], onion: string | undefined, add: (line: number, code: ReviewCode, reason: string) => void, file: string): void {
    if (value === null) {
      add(keyLine, 'null-value', `onion '${key}' has no value (null); it must list its domains`);
      return;
    }
    if (!Array.isArray(value)) {
      add(keyLine, 'bad-value', `onion '${key}' must have a list of domains, got ${describe(value)}`);
      return;
    }
    if (value.length === 0) {
      add(keyLine, 'empty-list', `onion '${key}' lists no domains`);
      return;
    }
    let previous: string | undefined;
    value.forEach((item: unknown, index) => {
      const line = itemLines[index] ?? keyLine;
      if (typeof item !== 'string') {
        add(line, 'bad-value', `a domain must be a string, got ${describe(item)}`);
        return;
      }
      if (isOnionName(item)) {
        add(line, 'invalid-domain', `'${item}' is an .onion name; list the mail domains the onion receives for`);
        return;
      }
      const d = normaliseDomain(item);
      if (!d.ok) {
        add(line, 'invalid-domain', `domain '${item}': ${d.reason}`);
        return;
      }
      if (d.domain !== item) add(line, 'non-canonical-domain', `domain '${item}' must be written as '${d.domain}'`);
      const first = this.#domains.get(d.domain);
      if (first !== undefined) add(line, 'duplicate-domain', `domain ${d.domain} is already listed at ${first}`);
      else this.#domains.set(d.domain, `${file}:${line}`);
      if (previous !== undefined && d.domain < previous) add(line, 'domains-unsorted', `domain ${d.domain} comes after ${previous}; keep each onion's domains alphabetically sorted`);
      previous = d.domain;
      if (onion !== undefined) this.entries.push({ file, line, onion, domain: d.domain });
    });
  }
}

/** One problem for the whole file: where the order first breaks, and how many keys are out of place. */
function checkKeyOrder(keys: readonly { key: string; line: number }[], add: (line: number, code: ReviewCode, reason: string) => void): void {
  const breakAt = keys.findIndex((k, i) => i > 0 && k.key < (keys[i - 1]?.key ?? ''));
  if (breakAt < 0) return;
  const at = keys[breakAt];
  const before = keys[breakAt - 1];
  if (at === undefined || before === undefined) return;
  const sorted = [...keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const misplaced = keys.filter((k, i) => sorted[i]?.key !== k.key).length;
  add(at.line, 'keys-unsorted', `onion keys are not in alphabetical order as the file's header asks: '${at.key}' comes after '${before.key}' (${misplaced} of ${keys.length} keys out of place)`);
}

/** The header is the comment block before the first YAML content. */
function asksForAlphabeticalOrder(text: string): boolean {
  const header: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) header.push(trimmed);
    else break;
  }
  return /alphabetic/i.test(header.join('\n'));
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}
