// Stopping a child process the same way everywhere in tests and benchmarks.
import type { ChildProcess } from 'node:child_process';

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. Resolves once it is gone. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
