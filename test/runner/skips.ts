// What a run skipped, for the runner's closing lines. node:test's own summary ("skipped N")
// counts skipped tests only: a describe() with { skip } is reported as one skipped suite and its
// tests are never enumerated, so a run that skipped every real-tor and Postfix suite could end
// with "skipped 0". The reasons come from needPrograms/needRoot and name the fix.
import { relative } from 'node:path';

export interface Skip {
  readonly kind: 'suite' | 'test';
  readonly name: string;
  /** The test file, relative to the runner's root. */
  readonly file: string | undefined;
  readonly reason: string;
}

/** The parts of node:test's test:pass event this reads (a skipped test or suite always "passes"). */
export interface PassEvent {
  readonly name: string;
  readonly file?: string | undefined;
  readonly skip?: string | boolean | undefined;
  readonly details: { readonly type?: 'suite' | undefined };
}

export function skipOf(event: PassEvent, root: string): Skip | undefined {
  if (event.skip === undefined || event.skip === false) return undefined;
  return {
    kind: event.details.type === 'suite' ? 'suite' : 'test',
    name: event.name,
    file: event.file === undefined ? undefined : relative(root, event.file),
    reason: event.skip === true || event.skip === '' ? '(no reason given)' : event.skip,
  };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The closing lines: how many suites and tests were skipped, grouped by reason (which names the fix). */
export function formatSkips(skips: readonly Skip[]): string[] {
  if (skips.length === 0) return ['skipped: none (every suite and test ran)'];
  const suites = skips.filter((s) => s.kind === 'suite').length;
  const tests = skips.length - suites;
  const counts = [suites > 0 ? `${plural(suites, 'suite')} with all ${suites === 1 ? 'its' : 'their'} tests` : '', tests > 0 ? plural(tests, 'test') : ''].filter(Boolean).join(', ');
  const lines = [`skipped ${skips.length} (${counts}); node:test's "skipped" above counts single tests only:`];
  const byReason = new Map<string, Skip[]>();
  for (const s of skips) byReason.set(s.reason, [...(byReason.get(s.reason) ?? []), s]);
  for (const [reason, group] of byReason) {
    lines.push(`  ${reason}:`);
    for (const s of group) lines.push(`    ${s.kind} "${s.name}"${s.file === undefined ? '' : ` (${s.file})`}`);
  }
  return lines;
}
