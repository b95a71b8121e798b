// Summaries for the Postfix benchmark: medians and the with/without-milter throughput ratios.

/** The median; the mean of the two middle values for an even count; NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? Number.NaN) + upper) / 2;
}

export interface TimedRun {
  readonly pair: number;
  readonly path: 'milter' | 'plain';
  readonly seconds: number;
}

/**
 * Throughput with the milter relative to without (same message count, so time without / time
 * with): of the median times, and per pair in pair order (NaN for a pair missing a side).
 */
export function throughputRatios(runs: readonly TimedRun[]): { ofMedians: number; perPair: number[] } {
  const seconds = (path: TimedRun['path']): number[] => runs.filter((r) => r.path === path).map((r) => r.seconds);
  const pairs = [...new Set(runs.map((r) => r.pair))].sort((a, b) => a - b);
  const perPair = pairs.map((pair) => {
    const plain = runs.find((r) => r.pair === pair && r.path === 'plain');
    const milter = runs.find((r) => r.pair === pair && r.path === 'milter');
    return plain === undefined || milter === undefined ? Number.NaN : plain.seconds / milter.seconds;
  });
  return { ofMedians: median(seconds('plain')) / median(seconds('milter')), perPair };
}
