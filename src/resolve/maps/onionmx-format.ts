// The OnionMX map format (ehloonion/onionmx `sources/map.yml`): a mapping whose keys are onion
// hosts and whose values are lists of mail domains, always on port 25:
//
//   'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion':
//     - 'riseup.net'
//
// Upstream defects handled here (see the fixture README): a key with a null value instead of a
// list (warned, no crash), dead v2 keys (skipped with their domains, warned). A single string
// value is taken as a one-element list, as the upstream Ruby generator does.
import { DEFAULT_ONION_PORT, describeType, parseDomainEntry, quote } from './collector.ts';
import type { MapCollector } from './collector.ts';
import type { LineInfo } from './yaml-lines.ts';

export function readOnionMxMap(
  file: string,
  map: Readonly<Record<string, unknown>>,
  lines: LineInfo,
  collector: MapCollector,
): void {
  for (const [key, value] of Object.entries(map)) {
    const keyInfo = lines.keys?.get(key);
    readOnionEntry(file, key, value, keyInfo?.keyLine ?? lines.line, keyInfo?.value ?? { line: lines.line }, collector);
  }
}

function readOnionEntry(
  file: string,
  key: string,
  value: unknown,
  keyLine: number,
  valueLines: LineInfo,
  collector: MapCollector,
): void {
  const domains = value === null ? [] : typeof value === 'string' ? [value] : value;
  if (!Array.isArray(domains)) {
    collector.warn('bad-value', file, keyLine, `onion ${quote(key)} must list domains, got ${describeType(value)}; skipped`);
    collector.skipped++;
    return;
  }
  const validation = collector.validateOnion(key);
  if (!validation.ok) {
    const code = validation.kind === 'v2' ? 'v2-onion' : 'invalid-onion';
    collector.warn(code, file, keyLine, `onion ${quote(key)} skipped: ${validation.reason}; ${listedDomains(domains, value)}`);
    collector.skipped += domains.length;
    return;
  }
  if (value === null) {
    collector.warn('null-value', file, keyLine, `onion ${quote(key)} lists no domains (null value instead of a list)`);
    return;
  }
  domains.forEach((item: unknown, index) => {
    const line = valueLines.items?.[index]?.line ?? valueLines.line;
    if (typeof item !== 'string') {
      collector.warn('bad-value', file, line, `a domain must be a string, got ${describeType(item)}; skipped`);
      collector.skipped++;
      return;
    }
    const entry = parseDomainEntry(item);
    if (!entry.ok) {
      collector.warn('invalid-domain', file, line, `domain ${quote(item)} skipped: ${entry.reason}`);
      collector.skipped++;
      return;
    }
    collector.claim({ ...entry, onion: validation.onion, port: DEFAULT_ONION_PORT, file, line });
  });
}

function listedDomains(domains: readonly unknown[], value: unknown): string {
  if (value === null) return 'it lists no domains (null value instead of a list)';
  const names = domains.map((d) => (typeof d === 'string' ? d : describeType(d))).join(', ');
  const count = domains.length === 1 ? '1 domain gets' : `${domains.length} domains get`;
  return `${count} no static route from it: ${names}`;
}
