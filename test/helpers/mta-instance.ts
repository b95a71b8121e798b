// What the throw-away MTA instances (exim.ts, sendmail.ts) share: the daemon as a foreground child
// of the test, its output collected; stop() sends SIGTERM (SIGKILL after 5 s), waits for the exit
// and removes the instance's directory; and one-shot runs of the binary with input on stdin.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { stopChild } from './stop-child.ts';

export interface RunResult {
  /** Exit status (sysexits), null when killed. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ForegroundDaemon {
  /** stdout and stderr so far. */
  readonly output: () => string;
  readonly running: () => boolean;
  /** Resolves when the daemon has exited. */
  readonly exited: Promise<void>;
  /** Stops the daemon and removes `root`. */
  readonly stop: () => Promise<void>;
}

export function startForegroundDaemon(binary: string, args: readonly string[], root: string): ForegroundDaemon {
  let output = '';
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (output += s));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    output: () => output,
    running,
    exited: new Promise<void>((resolve) => child.once('exit', () => { resolve(); })),
    stop: async () => {
      await stopChild(child, 5000);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** `binary args` with `input` on stdin, to its end (killed after 60 s). */
export function runBinary(binary: string, args: readonly string[], input = ''): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(binary, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}
