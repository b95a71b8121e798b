// Public types of the static maps: what a lookup answers, what loading reports.

/** Answer of a static map lookup. Routes and conflicts are shared frozen objects: never mutate. */
export type StaticLookup =
  | {
      readonly kind: 'route';
      /** A validated v3 onion host (`<56 base32>.onion`). */
      readonly onion: string;
      readonly port: number;
      /** `file:line` of the entry (the first one when the entry is listed more than once). */
      readonly origin: string;
      /** The map entry that matched: the domain itself, or `.parent` for a parent-domain match. */
      readonly matched: string;
    }
  | {
      /** The entry names two or more different targets; the facade answers tempfail 'conflicting-pins'. */
      readonly kind: 'conflict';
      /** `file:line` of every listing of the entry, in load order. */
      readonly places: readonly string[];
      readonly matched: string;
    }
  | { readonly kind: 'none' };

export interface StaticLookupOptions {
  /**
   * Also let an exact entry `example.org` answer for its subdomains (`mx.example.org`), like
   * Postfix's parent_domain_matches_subdomains. Defaults to the map's own `parentMatch` option.
   * Explicit parent entries (`.example.org`) always match subdomains.
   */
  readonly parentMatch?: boolean;
}

export interface StaticMapOptions {
  /** Default for {@link StaticLookupOptions.parentMatch}; false unless set. */
  readonly parentMatch?: boolean;
}

/** One entry of the loaded map, for export and `check`. Parent entries start with a dot. */
export type StaticMapEntry =
  | {
      readonly domain: string;
      readonly kind: 'route';
      readonly onion: string;
      readonly port: number;
      readonly origin: string;
    }
  | { readonly domain: string; readonly kind: 'conflict'; readonly places: readonly string[] };

export type MapProblemCode =
  /** The path or file could not be read (missing, permissions, not UTF-8, too large). */
  | 'unreadable'
  /** The file is not valid YAML; line and column point at the error. */
  | 'yaml-syntax'
  /** The top level is a list or a scalar instead of a mapping. */
  | 'not-a-mapping'
  /** The file holds no entries (empty document or `{}`). */
  | 'empty'
  /** A directory given as a map path holds no `*.yml` / `*.yaml` file. */
  | 'no-map-files'
  /** An onion is a dead v2 address; its domains are skipped. */
  | 'v2-onion'
  /** An onion fails v3 validation; its domains are skipped. */
  | 'invalid-onion'
  /** An OnionMX onion key has no value (null) instead of a list of domains. */
  | 'null-value'
  /** A value has the wrong type or shape (e.g. a port that is not 1-65535, an unknown field). */
  | 'bad-value'
  /** A domain is not a valid domain name. */
  | 'invalid-domain'
  /** A key does not fit the format detected for its file (a domain key in an OnionMX map or vice versa). */
  | 'mixed-format'
  /** The same entry is listed again with the same target. */
  | 'duplicate'
  /** The same entry is listed with different targets; it answers `conflict`. */
  | 'conflict';

export interface MapProblem {
  /** `error`: part of the maps is missing or an entry is unusable; `warning`: an entry was skipped or repeated. */
  readonly severity: 'error' | 'warning';
  readonly code: MapProblemCode;
  readonly file: string;
  /** 1-based; absent for problems of a whole file or directory. */
  readonly line?: number;
  /** 1-based; only for YAML syntax errors. */
  readonly column?: number;
  readonly reason: string;
  /** `file:line[:column]: reason`, ready for a log line. */
  readonly message: string;
}

export interface MapStats {
  /** Map files parsed (files that could not be read or parsed are not counted). */
  readonly files: number;
  /** Distinct onions that route at least one entry. */
  readonly onions: number;
  /** Entries (domains and `.parent` entries) that route; conflicting entries are not counted. */
  readonly domains: number;
  /** Domain listings skipped: dead or invalid onion, invalid domain, wrong value type. */
  readonly skipped: number;
  /** Distinct onions skipped as v2 or invalid. */
  readonly skippedOnions: number;
  /** Entries that answer `conflict`. */
  readonly conflicts: number;
}

/** An immutable set of loaded static maps. */
export interface StaticMap {
  /**
   * Looks a domain up: exact match first (O(1)), then — for explicit `.parent` entries, or all
   * entries when parent matching is on — the longest matching parent domain. The domain is
   * normalised first (case, trailing dot, IDN); an invalid domain answers `none`.
   */
  lookup(domain: string, options?: StaticLookupOptions): StaticLookup;
  /** {@link lookup} for a domain already in normal form (the resolver's hot path: no second check). */
  lookupNormalised(domain: string, options?: StaticLookupOptions): StaticLookup;
  /** Every entry, sorted by domain. */
  entries(): readonly StaticMapEntry[];
  readonly problems: readonly MapProblem[];
  readonly stats: MapStats;
  /**
   * False when a path, file or document could not be loaded at all (codes `unreadable`,
   * `yaml-syntax`, `not-a-mapping`): pins may be missing, so a daemon should refuse to start
   * with, or reload to, such a map.
   */
  readonly isComplete: boolean;
}
