// The selftest's checklist: one result per check, printed one line each, and whether the setup
// passed. A needed check must PASS; an optional one may also be skipped. Pure.

export type CheckStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface CheckResult {
  readonly status: CheckStatus;
  readonly name: string;
  readonly detail: string;
  /** One line that tells the operator what to change (FAIL only). */
  readonly fix?: string;
  /** A SKIP of an optional check does not fail the selftest. */
  readonly optional?: boolean;
}

export function pass(name: string, detail: string): CheckResult {
  return { status: 'PASS', name, detail };
}

export function fail(name: string, detail: string, fix: string): CheckResult {
  return { status: 'FAIL', name, detail, fix };
}

export function skip(name: string, detail: string, optional = false): CheckResult {
  return { status: 'SKIP', name, detail, optional };
}

/** Every needed check passed: no FAIL, and no SKIP of a check that is not optional. */
export function checklistPassed(results: readonly CheckResult[]): boolean {
  return results.every((r) => r.status === 'PASS' || (r.status === 'SKIP' && r.optional === true));
}

const NAME_WIDTH = 30;

/** `PASS  <name>  <detail>`, names in one column; a FAIL is followed by its `fix:` line. */
export function formatResult(r: CheckResult): string {
  const line = `${r.status}  ${r.name.padEnd(NAME_WIDTH)}  ${r.detail}`;
  return r.status === 'FAIL' && r.fix !== undefined ? `${line}\n${' '.repeat(6)}fix: ${r.fix}` : line;
}

/** The closing line: the verdict and the counts behind it. */
export function formatSummary(results: readonly CheckResult[]): string {
  const failed = results.filter((r) => r.status === 'FAIL').length;
  const missing = results.filter((r) => r.status === 'SKIP' && r.optional !== true).length;
  const skipped = results.filter((r) => r.status === 'SKIP' && r.optional === true).length;
  const verdict = checklistPassed(results) ? 'selftest: OK' : 'selftest: FAILED';
  return `${verdict} (${results.length - failed - missing - skipped} passed, ${failed} failed, ${missing} needed but not run, ${skipped} optional skipped)`;
}

export function formatChecklist(results: readonly CheckResult[]): string {
  return [...results.map(formatResult), formatSummary(results)].join('\n') + '\n';
}
