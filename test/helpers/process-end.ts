// Last-resort cleanup for test harnesses: synchronous actions (kill a process group, remove
// a temp dir) run when the test process exits or is killed by SIGINT/SIGTERM/SIGHUP without having
// cleaned up itself. A signal does not emit 'exit', so the handler cleans up and then dies of the
// signal again. Used by the Postfix, end-to-end and bench harnesses.
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const actions = new Set<() => void>();
let installed = false;

/** Registers `action`; call the returned function once the resource is cleaned up normally. */
export function atProcessEnd(action: () => void): () => void {
  install();
  actions.add(action);
  return () => actions.delete(action);
}

/** A temp dir removed at process end unless released first. */
export function removeAtProcessEnd(dir: string): () => void {
  return atProcessEnd(() => {
    rmSync(dir, { recursive: true, force: true });
  });
}

/** A new temp dir (`$TMPDIR/<prefix>XXXXXX`), removed by `remove()` or else at process end. */
export function tempDirUntilEnd(prefix: string): { readonly path: string; remove(): Promise<void> } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const release = removeAtProcessEnd(path);
  return {
    path,
    async remove() {
      await rm(path, { recursive: true, force: true });
      release();
    },
  };
}

function runAll(): void {
  for (const action of actions) {
    try {
      action();
    } catch {
      // best effort: the process is going away
    }
  }
  actions.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runAll();
      process.kill(process.pid, signal);
    });
  }
}
