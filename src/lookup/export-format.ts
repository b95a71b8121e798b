// The static maps as files for MTAs that prefer them to a lookup server. Pure: entries in, text
// out. The operator's maps win over the bundled OnionMX map; conflicting entries, local and
// ignored domains are left out (the daemon would defer or not route them); every line the file
// holds is a valid v3 onion route.
import type { StaticMapEntry } from '../resolve/maps/index.ts';
import { eximHostList } from './exim-codec.ts';
import { postfixRoute } from './replies.ts';

export type ExportFormat = 'postfix' | 'exim' | 'sendmail';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['postfix', 'exim', 'sendmail'];

export interface ExportSource {
  /** How the header names it, e.g. `maps: /etc/onionmx-milter/maps (2 files)`. */
  readonly label: string;
  readonly entries: readonly StaticMapEntry[];
}

export interface ExportOptions {
  readonly format: ExportFormat;
  /** Postfix transport / Sendmail mailer name (config header.transport). */
  readonly transport: string;
  /** Postfix lines name the relay (config relay.postfix_nexthop) instead of the onion. */
  readonly relayNexthop?: string | undefined;
  /** In priority order: the operator's maps first, then the bundled map. */
  readonly sources: readonly ExportSource[];
  /** Exact entries also route subdomains (config map_parent_match). */
  readonly parentMatch: boolean;
  readonly localDomains: readonly string[];
  readonly ignoreDomains: readonly string[];
}

export interface ExportResult {
  readonly text: string;
  readonly routes: number;
  readonly skipped: number;
}

interface Route {
  readonly key: string;
  readonly onion: string;
  readonly port: number;
  readonly origin: string;
}

export function exportStaticMaps(o: ExportOptions): ExportResult {
  const chosen = new Map<string, Route>();
  const decided = new Set<string>();
  const notes: string[] = [];
  const excluded = domainMatcher([...o.localDomains, ...o.ignoreDomains]);
  for (const source of o.sources) {
    for (const e of source.entries) {
      if (decided.has(e.domain)) continue;
      decided.add(e.domain);
      if (e.kind === 'conflict') {
        notes.push(`skipped ${e.domain}: pinned to different onions at ${e.places.join(' and ')} (the daemon defers its mail)`);
        continue;
      }
      if (excluded(e.domain)) {
        notes.push(`skipped ${e.domain}: a local or ignored domain`);
        continue;
      }
      chosen.set(e.domain, { key: e.domain, onion: e.onion, port: e.port, origin: e.origin });
    }
  }
  if (o.parentMatch) {
    for (const r of [...chosen.values()]) {
      const parent = `.${r.key}`;
      if (!r.key.startsWith('.') && !decided.has(parent)) chosen.set(parent, { ...r, key: parent });
    }
  }
  const lines: string[] = [];
  for (const r of [...chosen.values()].sort((a, b) => compareKeys(a.key, b.key))) {
    const line = formatLine(o, r);
    if (line === undefined) {
      notes.push(`skipped ${r.key}: port ${r.port} cannot be written in a Sendmail mailertable (${r.origin})`);
      continue;
    }
    lines.push(line);
  }
  const header = [
    `# onionmx-milter export --format ${o.format}: ${lines.length} route(s) from the static maps.`,
    '# Generated: edit the maps and export again instead of editing this file.',
    '# Sources, in priority order:',
    ...o.sources.map((s) => `#   ${s.label}`),
    '# Routes published only in DNS (SRV) are not here: the lookup servers answer those.',
    ...usage(o.format),
    ...notes.map((n) => `# ${n}`),
  ];
  return { text: [...header, ...lines, ''].join('\n'), routes: lines.length, skipped: notes.length };
}

function formatLine(o: ExportOptions, r: Route): string | undefined {
  const hop = [{ onion: r.onion, port: r.port }];
  const transport = o.transport;
  switch (o.format) {
    case 'postfix':
      return `${r.key}\t${postfixRoute(transport, hop, o.relayNexthop)}`;
    case 'sendmail':
      return r.port === 25 ? `${r.key}\t${transport}:[${r.onion}]` : undefined;
    case 'exim':
      // partial-lsearch spells parent entries `*.domain`.
      return `${r.key.startsWith('.') ? `*${r.key}` : r.key}: ${eximHostList(hop)}`;
  }
}

function usage(format: ExportFormat): string[] {
  switch (format) {
    case 'postfix':
      return ['# Use: postmap hash:FILE; transport_maps = hash:FILE (".domain" entries match subdomains).'];
    case 'sendmail':
      return ['# Use: makemap hash mailertable < FILE; FEATURE(`mailertable\', `hash /etc/mail/mailertable\').'];
    case 'exim':
      return ['# Use: route_data = ${lookup{$domain}partial-lsearch{FILE}} in a manualroute router ("*.domain" matches subdomains).'];
  }
}

function domainMatcher(entries: readonly string[]): (domain: string) => boolean {
  const exact = new Set<string>();
  const parents: string[] = [];
  for (const e of entries) {
    const d = e.toLowerCase().replace(/\.$/, '');
    if (d.startsWith('.')) parents.push(d);
    else exact.add(d);
  }
  return (domain) => {
    const bare = domain.startsWith('.') ? domain.slice(1) : domain;
    return exact.has(bare) || parents.some((p) => domain.endsWith(p));
  };
}

/** Exact entries before their `.parent` form, otherwise by domain. */
function compareKeys(a: string, b: string): number {
  const ka = a.startsWith('.') ? `${a.slice(1)}\u0001` : a;
  const kb = b.startsWith('.') ? `${b.slice(1)}\u0001` : b;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
