// Starts a benchmark peer (a filter) as a child process, waits for the line that says it listens,
// and stops it again. Every child is tracked so an interrupted benchmark leaves nothing running.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stopChild } from '../helpers/stop-child.ts';

export { stopChild };

const running = new Set<ChildProcess>();

export interface ReadyChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The ready line without its first word (e.g. the address the child listens on). */
  readonly detail: string;
}

/**
 * Spawns `command args` and resolves once it prints a line starting with `ready`; rejects if it
 * exits first or stays silent for `timeoutMs`. Its stderr goes to ours.
 */
export function startChild(command: string, args: readonly string[], timeoutMs = 15_000): Promise<ReadyChild> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new Promise<ReadyChild>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const fail = (why: string): void => {
      clearTimeout(timer);
      lines.close();
      stopChild(child).finally(() => {
        reject(new Error(`${command}: ${why}`));
      });
    };
    const timer = setTimeout(() => {
      fail(`not ready after ${timeoutMs} ms`);
    }, timeoutMs);
    child.once('error', (err) => {
      fail(err.message);
    });
    child.once('exit', (code, signal) => {
      fail(`exited before it was ready (code ${String(code)}, signal ${String(signal)})`);
    });
    lines.on('line', (line) => {
      if (!line.startsWith('ready')) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.once('exit', () => running.delete(child));
      lines.removeAllListeners('line');
      lines.on('line', () => undefined); // keep draining so the child never blocks on stdout
      if (child.pid === undefined) {
        fail('has no pid');
        return;
      }
      resolve({ child, pid: child.pid, detail: line.slice('ready'.length).trim() });
    });
  });
}

/** Kills every child still running; for exit and signal handlers. */
export function killAllChildren(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}
