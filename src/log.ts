import { openSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { LineBatcher } from './log-batch.ts';
import { GuardedSink } from './log-guard.ts';
import { PrettyLines } from './log-pretty.ts';

export type { Logger };

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  /** A writable destination; defaults to stdout (journald collects it under systemd). */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * pino's isoTime formats a Date for every line; lines within the same millisecond share one
 * string here (a daemon under load writes several per millisecond).
 */
let lastTimeMs = -1;
let lastTimeField = '';
function isoTimeField(): string {
  const now = Date.now();
  if (now !== lastTimeMs) {
    lastTimeMs = now;
    lastTimeField = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTimeField;
}

const OPTIONS = {
  base: { name: 'onionmx-milter' },
  timestamp: isoTimeField,
  formatters: { level: (label: string) => ({ level: label }) },
};

/** A logger for commands: JSON lines, no pretty printing, stable field names, written at once. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = { ...OPTIONS, level: options.level ?? 'info' };
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination);
}

export interface DaemonLogger {
  readonly log: Logger;
  /** Writes out what is buffered, synchronously (before exit). */
  flushSync(): void;
  /** Stops the periodic flush and writes out the rest. */
  close(): void;
}

/** Characters collected before a write, and the longest a line waits when traffic is light. */
const BATCH_CHARS = 4096;
const FLUSH_INTERVAL_MS = 200;
/** What SonicBoom may hold while the reader (journald, a pipe) does not keep up; beyond it lines are dropped, not the process. */
const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;

/** log.format: auto is pretty on a terminal and JSON everywhere else (journald, files, pipes). */
export function resolveLogFormat(format: 'json' | 'pretty' | 'auto', isTTY: boolean): 'json' | 'pretty' {
  return format === 'auto' ? (isTTY ? 'pretty' : 'json') : format;
}

/**
 * The daemon's logger: the same JSON lines, written in batches of up to 4 KiB, with a flush every
 * 200 ms, so lines stay in order and are at most that late. One write system call per line was a
 * tenth of the milter's CPU under load (one info line per message). `pretty` rewrites each line
 * for a person before it is batched; JSON lines go to the batcher as pino wrote them.
 */
export function createDaemonLogger(level: LevelWithSilent, dest: number | string = 1, format: 'json' | 'pretty' = 'json', color = false): DaemonLogger {
  // A path is opened here, not by SonicBoom in the background, so that lines logged before a quick
  // exit are not lost to a file that was not open yet.
  const fd = typeof dest === 'number' ? dest : openSync(dest, 'a', 0o640);
  const stream = pino.destination({ fd, sync: false, maxLength: MAX_BACKLOG_BYTES });
  const batcher = new LineBatcher(new GuardedSink(stream), BATCH_CHARS);
  const timer = setInterval(() => {
    batcher.flush();
  }, FLUSH_INTERVAL_MS);
  timer.unref();
  const flushSync = (): void => {
    try {
      batcher.flushSync();
    } catch {
      // not ready yet (nothing written) or already closed: nothing to flush
    }
  };
  return {
    log: pino({ ...OPTIONS, level }, format === 'pretty' ? new PrettyLines(batcher, color) : batcher),
    flushSync,
    close: () => {
      clearInterval(timer);
      flushSync();
    },
  };
}

/** A logger that drops everything: the default for library use and unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
