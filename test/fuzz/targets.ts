// Runs the selected targets with the crash counters armed: an uncaught exception or unhandled
// rejection anywhere in the process while a target runs counts against it (and does not end the run).
import { fuzzMilter } from './milter-target.ts';
import { fuzzLookup } from './lookup-target.ts';
import { fuzzDns } from './dns-target.ts';
import { fuzzConfig } from './config-target.ts';
import { startFuzzDaemon } from './fuzz-daemon.ts';
import type { FuzzOptions, Target } from './fuzz-options.ts';
import type { Budget, TargetReport } from './campaign.ts';

type Runner = (budget: Budget) => Promise<TargetReport>;

async function withDaemon<T>(run: (d: Awaited<ReturnType<typeof startFuzzDaemon>>) => Promise<T>): Promise<T> {
  const d = await startFuzzDaemon();
  try {
    return await run(d);
  } finally {
    await d.close();
  }
}

const RUNNERS: Readonly<Record<Target, Runner>> = {
  milter: (b) => withDaemon((d) => fuzzMilter(d, b)),
  lookup: (b) => withDaemon((d) => fuzzLookup(d, b)),
  dns: (b) => fuzzDns(b),
  config: (b) => fuzzConfig(b),
};

export async function runCampaign(options: FuzzOptions): Promise<TargetReport[]> {
  const reports: TargetReport[] = [];
  let crashes = 0;
  const crashed = (err: unknown): void => {
    crashes++;
    process.stderr.write(`fuzz: uncaught: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  };
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);
  try {
    for (const target of options.targets) {
      const before = crashes;
      const report = await RUNNERS[target]({ count: options.count, seconds: options.seconds, seed: options.seed });
      report.crashes += crashes - before;
      reports.push(report);
    }
  } finally {
    process.off('uncaughtException', crashed);
    process.off('unhandledRejection', crashed);
  }
  return reports;
}

export function formatReport(options: FuzzOptions, reports: readonly TargetReport[]): string[] {
  const lines = [`fuzz: seed ${options.seed}, at most ${options.count} inputs and ${options.seconds} s per target`];
  for (const r of reports) {
    lines.push(`${r.target}: ${r.inputs} inputs, ${r.packets} packets, ${r.bytes} bytes in ${r.seconds} s; crashes ${r.crashes}, hangs ${r.hangs}, oracle failures ${r.failureCount}`);
    for (const [k, v] of Object.entries(r.figures)) lines.push(`  ${k}: ${v}`);
    for (const f of r.failures) lines.push(`  FAIL ${f}`);
  }
  return lines;
}
