// Loading map files from disk. Each path is a file or a directory; a directory contributes every
// `*.yml` / `*.yaml` file directly inside it (not recursive, dotfiles ignored) in sorted order.
// Files are merged per entry in load order (see static-map.ts). Loading never throws for bad
// paths or content: every problem is reported with its place, and `isComplete` tells whether
// any path or file could not be loaded.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../errors.ts';
import { MapCollector } from './collector.ts';
import { readMapText } from './map-file.ts';
import { buildStaticMap } from './static-map.ts';
import type { StaticMap, StaticMapOptions } from './types.ts';

/** A map file's name as it should appear in messages, and its text. */
export interface MapText {
  readonly file: string;
  readonly text: string;
}

/** Larger files are refused: a static map of this size is a mistake, not a map. */
const MAX_MAP_BYTES = 16 * 1024 * 1024;
const MAP_FILE_NAME = /^[^.].*\.ya?ml$/i;

/** Builds a static map from texts already in memory (bundled data, tests). Pure. */
export function staticMapFromTexts(texts: readonly MapText[], options: StaticMapOptions = {}): StaticMap {
  const collector = new MapCollector();
  for (const { file, text } of texts) readMapText(file, text, collector);
  return buildStaticMap(collector, options);
}

/** Loads map files and directories. Never rejects for missing, unreadable or malformed maps. */
export async function loadStaticMaps(paths: readonly string[], options: StaticMapOptions = {}): Promise<StaticMap> {
  const collector = new MapCollector();
  const seen = new Set<string>();
  for (const path of paths) {
    for (const file of await expandPath(path, collector)) {
      if (!(await isFirstVisit(file, seen))) continue;
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (err) {
        collector.error('unreadable', file, undefined, `cannot read map file: ${errorMessage(err)}`);
        continue;
      }
      readMapBytes(file, bytes, collector);
    }
  }
  return buildStaticMap(collector, options);
}

/** The synchronous twin of {@link loadStaticMaps}, for start-up code and the CLI. */
export function loadStaticMapsSync(paths: readonly string[], options: StaticMapOptions = {}): StaticMap {
  const collector = new MapCollector();
  const seen = new Set<string>();
  for (const path of paths) {
    for (const file of expandPathSync(path, collector)) {
      if (!isFirstVisitSync(file, seen)) continue;
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (err) {
        collector.error('unreadable', file, undefined, `cannot read map file: ${errorMessage(err)}`);
        continue;
      }
      readMapBytes(file, bytes, collector);
    }
  }
  return buildStaticMap(collector, options);
}

function readMapBytes(file: string, bytes: Buffer, collector: MapCollector): void {
  if (bytes.length > MAX_MAP_BYTES) {
    collector.error('unreadable', file, undefined, `map file is ${bytes.length} bytes; at most ${MAX_MAP_BYTES} accepted`);
    return;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    collector.error('unreadable', file, undefined, 'map file is not valid UTF-8');
    return;
  }
  readMapText(file, text, collector);
}

async function expandPath(path: string, collector: MapCollector): Promise<string[]> {
  try {
    if (!(await stat(path)).isDirectory()) return [path];
    return mapFilesIn(path, await readdir(path), collector);
  } catch (err) {
    collector.error('unreadable', path, undefined, `cannot read map path: ${errorMessage(err)}`);
    return [];
  }
}

function expandPathSync(path: string, collector: MapCollector): string[] {
  try {
    if (!statSync(path).isDirectory()) return [path];
    return mapFilesIn(path, readdirSync(path), collector);
  } catch (err) {
    collector.error('unreadable', path, undefined, `cannot read map path: ${errorMessage(err)}`);
    return [];
  }
}

function mapFilesIn(directory: string, names: readonly string[], collector: MapCollector): string[] {
  const files = names
    .filter((name) => MAP_FILE_NAME.test(name))
    .sort()
    .map((name) => join(directory, name));
  if (files.length === 0) collector.warn('no-map-files', directory, undefined, 'directory holds no *.yml or *.yaml map file');
  return files;
}

/** A file named twice (directly and through its directory, or via a symlink) is read once. */
async function isFirstVisit(file: string, seen: Set<string>): Promise<boolean> {
  const key = await realpath(file).catch(() => file);
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}

function isFirstVisitSync(file: string, seen: Set<string>): boolean {
  let key = file;
  try {
    key = realpathSync(file);
  } catch {
    // unreadable: reported when the read fails
  }
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}
