// The worker thread of load-off-thread.ts: loads and compiles the maps, posts the tables packed
// (transferred, not cloned), then the problems in slices.
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../../errors.ts';
import { loadStaticMaps } from './load.ts';
import { SLICE_ENTRIES, type WorkerInput, type WorkerMessage } from './load-off-thread.ts';
import { packTable } from './packed-table.ts';
import { staticMapParts } from './static-map.ts';

async function main(port: NonNullable<typeof parentPort>, input: WorkerInput): Promise<void> {
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []): void => {
    port.postMessage(message, transfer);
  };
  try {
    const parts = staticMapParts(await loadStaticMaps(input.paths, input.options));
    const exact = packTable(parts.exact.entries());
    const parents = packTable(parts.parents.entries());
    post({ kind: 'tables', exact, parents }, [exact.bytes, exact.starts, exact.slots, parents.bytes, parents.starts, parents.slots]);
    for (let i = 0; i < parts.problems.length; i += SLICE_ENTRIES) post({ kind: 'problems', problems: parts.problems.slice(i, i + SLICE_ENTRIES) });
    post({ kind: 'done', stats: parts.stats, parentMatch: parts.parentMatch });
  } catch (err) {
    post({ kind: 'failed', message: errorMessage(err) });
  }
}

/**
 * On a busy machine a worker at the daemon's own priority takes CPU time from its main thread
 * (the one answering the MTA). On Linux a nice value is per thread: lower this one's.
 */
function yieldToTheMainThread(): void {
  try {
    const tid = Number(readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]);
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 19);
  } catch {
    // not Linux, or not allowed: the worker runs at the daemon's priority
  }
}

if (parentPort !== null) {
  yieldToTheMainThread();
  void main(parentPort, workerData as WorkerInput);
}
