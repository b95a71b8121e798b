// The filter the milter benchmark runs on our engine: the same callbacks as c/bench-filter.c, so
// both filters receive the same events and send the same replies, and the same added header.
import type { FilterHandler, FilterSpec } from '../../src/milter/types.ts';

export const ADDED_HEADER = { name: 'X-OnionMX-Bench', value: 'passed' } as const;

/** `all`: every event; `rcpt-eom`: only RCPT and end of message (plus abort and close, which cost no packet). */
export const BENCH_MODES = ['all', 'rcpt-eom'] as const;
export type BenchMode = (typeof BENCH_MODES)[number];

export function isBenchMode(s: string): s is BenchMode {
  return (BENCH_MODES as readonly string[]).includes(s);
}

/** Per-connection counters, the counterpart of the C filter's smfi_setpriv state. */
class MessageCounters {
  recipients = 0;
  headers = 0;
  bodyBytes = 0;

  reset(): void {
    this.recipients = 0;
    this.headers = 0;
    this.bodyBytes = 0;
  }
}

function everyEventHandler(): FilterHandler {
  const counters = new MessageCounters();
  return {
    connect: () => undefined,
    helo: () => undefined,
    mailFrom: () => {
      counters.reset();
      return undefined;
    },
    rcptTo: () => {
      counters.recipients++;
      return undefined;
    },
    header: () => {
      counters.headers++;
      return undefined;
    },
    endOfHeaders: () => undefined,
    body: (_ctx, chunk) => {
      counters.bodyBytes += chunk.length;
      return undefined;
    },
    endOfMessage: (ctx) => {
      ctx.addHeader(ADDED_HEADER.name, ADDED_HEADER.value);
      counters.reset();
      return undefined;
    },
    abort: () => {
      counters.reset();
    },
    close: () => undefined,
  };
}

function rcptAndEndOfMessageHandler(): FilterHandler {
  const counters = new MessageCounters();
  return {
    rcptTo: () => {
      counters.recipients++;
      return undefined;
    },
    endOfMessage: (ctx) => {
      ctx.addHeader(ADDED_HEADER.name, ADDED_HEADER.value);
      counters.reset();
      return undefined;
    },
    abort: () => {
      counters.reset();
    },
    close: () => undefined,
  };
}

export function benchFilter(mode: BenchMode): FilterSpec {
  return {
    actions: ['addHeader'],
    open: mode === 'all' ? everyEventHandler : rcptAndEndOfMessageHandler,
  };
}
