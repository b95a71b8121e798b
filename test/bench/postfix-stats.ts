// Summaries for the Postfix benchmark: medians and throughput ratios against the milter-less path.

/** The median; the mean of the two middle values for an even count; NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? Number.NaN) + upper) / 2;
}

export interface TimedRun {
  readonly round: number;
  readonly path: string;
  readonly seconds: number;
}

/**
 * Throughput of `path` relative to `baseline` (same message count, so baseline time / path time):
 * of the median times, and per round in round order (NaN for a round missing either side).
 */
export function throughputRatios(runs: readonly TimedRun[], path: string, baseline: string): { ofMedians: number; perRound: number[] } {
  const seconds = (p: string): number[] => runs.filter((r) => r.path === p).map((r) => r.seconds);
  const rounds = [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b);
  const perRound = rounds.map((round) => {
    const base = runs.find((r) => r.round === round && r.path === baseline);
    const measured = runs.find((r) => r.round === round && r.path === path);
    return base === undefined || measured === undefined ? Number.NaN : base.seconds / measured.seconds;
  });
  return { ofMedians: median(seconds(baseline)) / median(seconds(path)), perRound };
}

/** Round r (1-based) runs the paths rotated by r - 1, so no path always goes first or last. */
export function roundOrder<T>(paths: readonly T[], round: number): T[] {
  const shift = (round - 1) % Math.max(1, paths.length);
  return [...paths.slice(shift), ...paths.slice(0, shift)];
}
