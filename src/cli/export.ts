// `onionmx-milter export --format postfix|exim|sendmail [--config FILE] [--output FILE]`: writes
// the static maps (the operator's, then the bundled OnionMX map unless bundled_map is false) as a
// Postfix transport file, an Exim partial-lsearch file or a Sendmail mailertable.
import { rename, writeFile } from 'node:fs/promises';
import { EX_CONFIG, EX_OK, UsageError } from './exit.ts';
import { parseCommand } from './args.ts';
import { exportDoc } from './docs/export.ts';
import { loadConfigArg } from './config-arg.ts';
import { errorMessage } from '../errors.ts';
import { loadStaticMaps, type StaticMap } from '../resolve/maps/index.ts';
import { BUNDLED_MAP_PATH } from '../resolve/from-config.ts';
import { EXPORT_FORMATS, exportStaticMaps, type ExportFormat, type ExportSource } from '../lookup/export-format.ts';

/** sysexits.h EX_CANTCREAT. */
const EX_CANTCREAT = 73;

export async function runExport(args: readonly string[]): Promise<number> {
  const parsed = parseCommand(args, exportDoc);
  if (parsed.help) return EX_OK;
  const format = parsed.values.format;
  if (format === undefined) throw new UsageError(`--format is required (${EXPORT_FORMATS.join(', ')})`);
  if (!isFormat(format)) throw new UsageError(`unknown --format "${format}" (expected ${EXPORT_FORMATS.join(', ')})`);
  const loaded = await loadConfigArg(parsed.values.config);
  if (!loaded.ok) {
    for (const m of loaded.messages) process.stderr.write(`error: ${m}\n`);
    return EX_CONFIG;
  }
  const config = loaded.config;
  const options = { parentMatch: config.mapParentMatch };
  const operator = await loadStaticMaps(config.maps, options);
  if (!reportProblems('maps', operator)) return EX_CONFIG;
  const sources: ExportSource[] = [];
  if (config.maps.length > 0) sources.push({ label: `maps: ${config.maps.join(', ')} (${describe(operator)})`, entries: operator.entries() });
  if (config.bundledMap) {
    const bundled = await loadStaticMaps([BUNDLED_MAP_PATH], options);
    if (!bundled.isComplete) {
      process.stderr.write(`error: the bundled OnionMX map could not be loaded from ${BUNDLED_MAP_PATH}\n`);
      return EX_CONFIG;
    }
    sources.push({ label: `bundled OnionMX map (${describe(bundled)})`, entries: bundled.entries() });
  }
  const result = exportStaticMaps({
    format,
    transport: config.header.transport,
    relayNexthop: config.relay.postfixNexthop,
    sources,
    parentMatch: config.mapParentMatch,
    localDomains: config.policy.localDomains,
    ignoreDomains: config.policy.ignoreDomains,
  });
  const output = parsed.values.output;
  if (output === undefined || output === '-') {
    process.stdout.write(result.text);
  } else {
    // Write beside the target and rename, so a postmap or an Exim reading it never sees half a file.
    const temp = `${output}.tmp-${process.pid}`;
    try {
      await writeFile(temp, result.text, { mode: 0o644 });
      await rename(temp, output);
    } catch (err) {
      process.stderr.write(`error: cannot write ${output}: ${errorMessage(err)}\n`);
      return EX_CANTCREAT;
    }
    process.stderr.write(`wrote ${result.routes} route(s) to ${output}${result.skipped > 0 ? `, ${result.skipped} left out (see the header)` : ''}\n`);
  }
  return EX_OK;
}

function isFormat(s: string): s is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(s);
}

function describe(map: StaticMap): string {
  const s = map.stats;
  return `${s.files} file(s), ${s.domains} route(s), ${s.skipped} skipped, ${s.conflicts} conflict(s)`;
}

/** Prints the operator map's errors; false when a map could not be loaded at all. */
function reportProblems(label: string, map: StaticMap): boolean {
  for (const p of map.problems) if (p.severity === 'error') process.stderr.write(`${label}: error: ${p.message}\n`);
  return map.isComplete;
}
