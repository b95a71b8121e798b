// The native map format of onionmx-milter: a mapping keyed by domain, one entry per line, with
// the target as an onion host (port 25) or as { onion, port }:
//
//   example.org: pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion
//   example.net:
//     onion: sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion
//     port: 2525
//   .example.com: xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion
//
// A key starting with `.` (or `*.`) is a parent entry: it matches every subdomain of
// example.com but not example.com itself; an exact entry for a subdomain wins over it, and the
// longest matching parent wins. Domains may be written in any case, with a trailing dot, or as
// IDN U-labels; they are normalised to lower-case A-labels. Unknown fields in a { onion, port }
// value skip the entry (a typo such as `prot:` must not silently route to port 25).
// test/fixtures/maps/native.yml is a commented example.
import { DEFAULT_ONION_PORT, describeType, isPlainMapping, parseDomainEntry, quote } from './collector.ts';
import type { MapCollector } from './collector.ts';
import type { LineInfo } from './yaml-lines.ts';

const TARGET_FIELDS: ReadonlySet<string> = new Set(['onion', 'port']);
const MAX_PORT = 65535;

type Target = { readonly onion: string; readonly port: number } | { readonly problem: string };

export function readNativeMap(
  file: string,
  map: Readonly<Record<string, unknown>>,
  lines: LineInfo,
  collector: MapCollector,
): void {
  for (const [key, value] of Object.entries(map)) {
    const line = lines.keys?.get(key)?.keyLine ?? lines.line;
    readDomainEntry(file, key, value, line, collector);
  }
}

function readDomainEntry(file: string, key: string, value: unknown, line: number, collector: MapCollector): void {
  const entry = parseDomainEntry(key);
  if (!entry.ok) {
    collector.warn('invalid-domain', file, line, `domain ${quote(key)} skipped: ${entry.reason}`);
    collector.skipped++;
    return;
  }
  const target = readTarget(value);
  if ('problem' in target) {
    collector.warn('bad-value', file, line, `domain ${quote(key)} skipped: ${target.problem}`);
    collector.skipped++;
    return;
  }
  const validation = collector.validateOnion(target.onion);
  if (!validation.ok) {
    const code = validation.kind === 'v2' ? 'v2-onion' : 'invalid-onion';
    collector.warn(code, file, line, `domain ${quote(key)} skipped: onion ${quote(target.onion)}: ${validation.reason}`);
    collector.skipped++;
    return;
  }
  collector.claim({ ...entry, onion: validation.onion, port: target.port, file, line });
}

function readTarget(value: unknown): Target {
  if (typeof value === 'string') return { onion: value, port: DEFAULT_ONION_PORT };
  if (!isPlainMapping(value)) {
    return { problem: `the target must be an onion or { onion, port }, got ${describeType(value)}` };
  }
  const unknown = Object.keys(value).filter((field) => !TARGET_FIELDS.has(field));
  if (unknown.length > 0) {
    return { problem: `unknown field ${unknown.map(quote).join(', ')} (allowed: onion, port)` };
  }
  const { onion, port } = value;
  if (typeof onion !== 'string') return { problem: `'onion' must be an onion host, got ${describeType(onion)}` };
  if (port === undefined) return { onion, port: DEFAULT_ONION_PORT };
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    return { problem: `'port' must be a whole number from 1 to ${MAX_PORT}, got ${describeType(port)}` };
  }
  return { onion, port };
}
