// Loading the maps without pausing the daemon. Parsing and compiling a map is synchronous work
// (YAML, domain normalisation, onion checks): about 2 s for 50,000 entries, during which a daemon
// that did it on its own thread answered nothing (milter, lookups, relay). Here a worker thread
// (load-worker.ts) reads, parses and compiles, and hands the tables back packed (packed-table.ts):
// three transferred buffers, not 50,000 objects to clone and later collect.
// If no worker can be started (out of memory or descriptors), the maps are loaded in this thread.
import { Worker } from 'node:worker_threads';
import { loadStaticMaps } from './load.ts';
import { unpackTable, type LookupTable, type PackedTableData } from './packed-table.ts';
import { staticMapFromParts } from './static-map.ts';
import type { MapProblem, MapStats, StaticLookup, StaticMap, StaticMapOptions } from './types.ts';

/** Problems per message: copying one slice takes well under a millisecond. */
export const SLICE_ENTRIES = 2000;

/** What the worker sends, in order: the tables, problem slices, then `done` (or `failed`). */
export type WorkerMessage =
  | { readonly kind: 'tables'; readonly exact: PackedTableData; readonly parents: PackedTableData }
  | { readonly kind: 'problems'; readonly problems: readonly MapProblem[] }
  | { readonly kind: 'done'; readonly stats: MapStats; readonly parentMatch: boolean }
  | { readonly kind: 'failed'; readonly message: string };

export interface WorkerInput {
  readonly paths: readonly string[];
  readonly options: StaticMapOptions;
}

export async function loadStaticMapsOffThread(paths: readonly string[], options: StaticMapOptions = {}): Promise<StaticMap> {
  let worker: Worker;
  try {
    worker = new Worker(new URL('./load-worker.js', import.meta.url), { workerData: { paths, options } satisfies WorkerInput });
  } catch {
    return loadStaticMaps(paths, options);
  }
  let exact: LookupTable = new Map<string, StaticLookup>();
  let parents: LookupTable = new Map<string, StaticLookup>();
  const problems: MapProblem[] = [];
  const built = await new Promise<StaticMap | undefined>((resolve) => {
    let settled = false;
    const settle = (map: StaticMap | undefined): void => {
      if (settled) return;
      settled = true;
      resolve(map);
    };
    worker.on('message', (message: WorkerMessage) => {
      switch (message.kind) {
        case 'tables':
          exact = unpackTable(message.exact);
          parents = unpackTable(message.parents);
          return;
        case 'problems':
          problems.push(...message.problems);
          return;
        case 'done':
          settle(staticMapFromParts({ exact, parents, problems, stats: message.stats, parentMatch: message.parentMatch }));
          return;
        case 'failed':
          settle(undefined);
          return;
      }
    });
    worker.once('error', () => {
      settle(undefined);
    });
    worker.once('exit', () => {
      settle(undefined);
    });
  });
  await worker.terminate();
  return built ?? loadStaticMaps(paths, options);
}
