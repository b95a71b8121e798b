// One map file: parse the YAML, detect its format, hand the entries to that format's reader.
// Pure apart from the collector it fills.
import { isOnionName } from '../onion.ts';
import { describeType, isPlainMapping, quote } from './collector.ts';
import type { MapCollector } from './collector.ts';
import { readNativeMap } from './native-format.ts';
import { readOnionMxMap } from './onionmx-format.ts';
import { parseYamlWithLines } from './yaml-lines.ts';
import type { LineInfo } from './yaml-lines.ts';

export type MapFormat = 'onionmx' | 'native';

/**
 * The format is decided per file by its keys: OnionMX when at least half of them are `.onion`
 * names, native otherwise. Keys of the other kind are then warned about and skipped.
 */
export function detectFormat(keys: readonly string[]): MapFormat {
  const onionKeys = keys.filter((key) => isOnionName(key)).length;
  return onionKeys > 0 && onionKeys * 2 >= keys.length ? 'onionmx' : 'native';
}

export function readMapText(file: string, text: string, collector: MapCollector): void {
  const parsed = parseYamlWithLines(text, file);
  if (!parsed.ok) {
    collector.error('yaml-syntax', file, parsed.line, `invalid YAML: ${parsed.reason}`, parsed.column);
    return;
  }
  const { value, lines } = parsed;
  if (value === null || value === undefined) {
    collector.files++;
    collector.warn('empty', file, undefined, 'the file holds no map entries');
    return;
  }
  if (!isPlainMapping(value)) {
    collector.error(
      'not-a-mapping',
      file,
      lines.line,
      `the top level must be a mapping (OnionMX: onion -> [domains]; native: domain -> onion), got ${describeType(value)}`,
    );
    return;
  }
  collector.files++;
  const keys = Object.keys(value);
  if (keys.length === 0) {
    collector.warn('empty', file, lines.line, 'the file holds no map entries');
    return;
  }
  const format = detectFormat(keys);
  const fitting = keepFittingKeys(file, value, lines, format, collector);
  if (format === 'onionmx') readOnionMxMap(file, fitting, lines, collector);
  else readNativeMap(file, fitting, lines, collector);
}

function keepFittingKeys(
  file: string,
  map: Readonly<Record<string, unknown>>,
  lines: LineInfo,
  format: MapFormat,
  collector: MapCollector,
): Record<string, unknown> {
  const fitting: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(map)) {
    if (isOnionName(key) === (format === 'onionmx')) {
      Object.defineProperty(fitting, key, { value, enumerable: true });
      continue;
    }
    const line = lines.keys?.get(key)?.keyLine ?? lines.line;
    const reason =
      format === 'onionmx'
        ? `key ${quote(key)} is not an .onion name, but this file is in the OnionMX format (onion -> [domains]); skipped`
        : `key ${quote(key)} is an .onion name, but this file is in the native format (domain -> onion); skipped`;
    collector.warn('mixed-format', file, line, reason);
    collector.skipped++;
  }
  return fitting;
}
