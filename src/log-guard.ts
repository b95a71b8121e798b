// What the daemon does when its log output fails (disk full, EIO, a reader gone): the mail goes on.
// Without this, SonicBoom's write error was an uncaught 'error' event, and the daemon spent itself
// trying to log that fatal error to the same full disk, answering no MTA (the fault matrix's
// "log disk full" cell). Here, from the first failed write on, lines are dropped and counted, one
// line on stderr says so, and every RETRY_MS the next batch is offered again: the first batch
// written after the trouble starts with a line telling how many were dropped. SonicBoom's
// flushSync retries a failed write forever (it gives up on EAGAIN only), and pino calls it at exit:
// until a write has succeeded again, the stream's flushSync does nothing, so the daemon can exit.
import type { LineSink } from './log-batch.ts';

export const RETRY_MS = 5000;

/** SonicBoom as far as the guard needs it: a sink that reports failed writes as 'error' events. */
export interface FailingSink extends LineSink {
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'write', listener: (bytes: number) => void): unknown;
}

export class GuardedSink implements LineSink {
  readonly #sink: FailingSink;
  readonly #now: () => number;
  readonly #report: (message: string) => void;
  #failedAt: number | undefined;
  /** No write has failed since the last one that succeeded. */
  #writing = true;
  #dropped = 0;
  #error = '';

  constructor(sink: FailingSink, options: { readonly now?: () => number; readonly report?: (message: string) => void } = {}) {
    this.#sink = sink;
    this.#now = options.now ?? Date.now;
    this.#report = options.report ?? ((message) => { process.stderr.write(message); });
    sink.on('error', (err) => {
      this.#fail(err);
    });
    sink.on('write', () => {
      this.#writing = true;
    });
    const flushSync = sink.flushSync.bind(sink);
    sink.flushSync = () => {
      if (this.#writing) flushSync();
    };
  }

  /** Lines dropped since the output failed (0 while it works). */
  get dropped(): number {
    return this.#dropped;
  }

  write(data: string): boolean {
    if (this.#failedAt !== undefined) {
      if (this.#now() - this.#failedAt < RETRY_MS) {
        this.#dropped += countLines(data);
        return true;
      }
      const note = `${JSON.stringify({ level: 'warn', time: new Date(this.#now()).toISOString(), name: 'onionmx-milter', dropped: this.#dropped, err: this.#error, msg: 'log output failed: lines dropped' })}\n`;
      this.#failedAt = undefined;
      this.#dropped = 0;
      return this.#sink.write(note + data);
    }
    return this.#sink.write(data);
  }

  flushSync(): void {
    if (!this.#writing) return;
    try {
      this.#sink.flushSync();
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #fail(err: Error): void {
    if (this.#failedAt === undefined) this.#report(`onionmx-milter: log output failed (${err.message}): dropping log lines, retrying every ${RETRY_MS / 1000} s\n`);
    this.#failedAt = this.#now();
    this.#writing = false;
    this.#error = err.message;
  }
}

function countLines(data: string): number {
  let n = 0;
  for (let i = data.indexOf('\n'); i >= 0; i = data.indexOf('\n', i + 1)) n++;
  return n;
}
