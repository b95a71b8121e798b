// Option parsing shared by the benchmark scripts.

/** `--what N`: a whole number of at least `min`, or `fallback` when the option was not given. */
export function wholeNumber(raw: string | undefined, fallback: number, what: string, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${what}: "${raw}" is not a whole number >= ${min}`);
  return n;
}
