// `npm run bench:milter`: throughput, latency and peak RSS of a filter on our engine against the same
// filter on Sendmail's libmilter, driven by our MTA-side client. Measurement only; nothing here is a test.
//
//   node dist/test/bench/milter.js [--seconds 3] [--warmup 0.5] [--n 1,10,100] [--transport unix,tcp]
//                                  [--mode all,rcpt-eom,routing] [--filter ours,c,routing] [--rounds 1]
//                                  [--profile DIR] [--node-flags "--max-semi-space-size=4"] [--log-level info]
// Mode `routing` runs the real routing filter (two variants: domain-list and defer, cache warm)
// against a plain filter on our engine that negotiates the same events, and reports routing/plain;
// the libmilter filter has no routing mode.
// --rounds R measures every cell R times, ours and libmilter alternating, and reports the round with
// the median tx/s (peak RSS: the highest of all rounds) and the median of the per-round ours/C
// ratios; on a busy machine this evens out the noise.
// --profile DIR runs our filter's process under `node --cpu-prof`, one .cpuprofile per cell in DIR.
// --node-flags passes V8/Node flags to our filter's process (space-separated), for experiments.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildCFilter, type CFilterBuild } from './c-filter.ts';
import { killAllChildren, startChild, stopChild } from './child-process.ts';
import { formatTable, peakRssBytes, quantile } from './measure.ts';
import { BENCH_MODES } from './milter-bench-filter.ts';
import { PLAIN_SCENARIO, runLoad, type Scenario } from './milter-load.ts';
import { PLAIN_ROUTING_EVENTS_SCENARIO, ROUTING_SCENARIOS, type RoutingVariant } from './milter-routing-setup.ts';
import { processCpuMs } from './proc-cpu.ts';
import { freePort } from '../helpers/ports.ts';

const TRANSPORTS = ['unix', 'tcp'] as const;
type Transport = (typeof TRANSPORTS)[number];
/** The two C-comparable event sets, and the routing filter's events. */
const MODES = [...BENCH_MODES, 'routing'] as const;
type Mode = (typeof MODES)[number];
/** What --filter accepts; `routing` stands for both routing variants. */
const FILTER_CHOICES = ['ours', 'c', 'routing'] as const;
type FilterChoice = (typeof FILTER_CHOICES)[number];
/** `ours` is the plain filter on our engine (in mode routing: with the routing filter's events). */
type FilterKind = 'ours' | 'c' | 'routing-domain-list' | 'routing-defer';
const ROUTING_KINDS: Readonly<Record<RoutingVariant, FilterKind>> = { 'domain-list': 'routing-domain-list', defer: 'routing-defer' };

interface Options {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly connections: readonly number[];
  readonly transports: readonly Transport[];
  readonly modes: readonly Mode[];
  readonly filters: readonly FilterChoice[];
  /** Directory for CPU profiles of our filter's process, one per cell. */
  readonly profileDir: string | undefined;
  /** Extra node flags for our filter's process. */
  readonly nodeFlags: readonly string[];
  /** Log level of our filter's process in mode routing (its log goes to /dev/null). */
  readonly logLevel: string;
}

interface Cell {
  readonly transport: Transport;
  readonly mode: Mode;
  readonly n: number;
  readonly filter: FilterKind;
}

type CellResult = Cell &
  (
    | {
        readonly ok: true;
        readonly perSecond: number;
        readonly p50Ms: number;
        readonly p99Ms: number;
        readonly maxMs: number;
        readonly clientCpuPercent: number;
        readonly peakRssBytes: number | undefined;
        readonly filterCpuPercent: number | undefined;
        /** tx/s of every round, in the order run. */
        readonly roundsPerSecond: readonly number[];
      }
    | { readonly ok: false; readonly error: string }
  );

const SERVER_SCRIPT = fileURLToPath(new URL('./milter-server.js', import.meta.url));

function listOf<T extends string>(raw: string, allowed: readonly T[], what: string): T[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`--${what}: "${item}" is not one of ${allowed.join(', ')}`);
  }
  return items as T[];
}

function positive(raw: string, what: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what}: "${raw}" is not a positive number`);
  return n;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seconds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '0.5' },
      rounds: { type: 'string', default: '1' },
      n: { type: 'string', default: '1,10,100' },
      transport: { type: 'string', default: TRANSPORTS.join(',') },
      mode: { type: 'string', default: MODES.join(',') },
      filter: { type: 'string', default: FILTER_CHOICES.join(',') },
      profile: { type: 'string' },
      'node-flags': { type: 'string', default: '' },
      'log-level': { type: 'string', default: 'info' },
    },
    strict: true,
  });
  const warmupSeconds = Number(values.warmup);
  if (!Number.isFinite(warmupSeconds) || warmupSeconds < 0) throw new Error(`--warmup: "${values.warmup}" is not a number >= 0`);
  const rounds = positive(values.rounds, 'rounds');
  if (!Number.isInteger(rounds)) throw new Error(`--rounds: "${values.rounds}" is not an integer`);
  return {
    seconds: positive(values.seconds, 'seconds'),
    rounds,
    warmupSeconds,
    connections: values.n.split(',').map((s) => {
      const n = positive(s, 'n');
      if (!Number.isInteger(n)) throw new Error(`--n: "${s}" is not an integer`);
      return n;
    }),
    transports: listOf(values.transport, TRANSPORTS, 'transport'),
    modes: listOf(values.mode, MODES, 'mode'),
    filters: listOf(values.filter, FILTER_CHOICES, 'filter'),
    profileDir: values.profile === undefined ? undefined : resolve(values.profile),
    nodeFlags: values['node-flags'].split(' ').filter((f) => f !== ''),
    logLevel: values['log-level'],
  };
}

/** A free loopback TCP port for the C filter, which cannot report the port it bound. */

interface StartedFilter {
  readonly pid: number;
  /** Where the filter listens, in a form the client accepts. */
  readonly spec: string;
  stop(): Promise<void>;
}

async function startFilter(cell: Cell, dir: string, cBinary: string | undefined, options: Options): Promise<StartedFilter> {
  const tag = `${cell.filter}-${cell.transport}-${cell.mode}-${cell.n}`;
  if (cell.filter !== 'c') {
    const spec = cell.transport === 'unix' ? `unix:${join(dir, `${tag}.sock`)}` : 'inet:127.0.0.1:0';
    const profile =
      options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${tag}.cpuprofile`];
    const variant = routingVariantOf(cell.filter);
    const routing = cell.mode === 'routing' ? ['--log-level', options.logLevel, ...(variant === undefined ? [] : ['--routing', variant])] : [];
    const args = [...options.nodeFlags, ...profile, SERVER_SCRIPT, '--listen', spec, '--mode', cell.mode, ...routing];
    const { child, pid, detail } = await startChild(process.execPath, args);
    return { pid, spec: detail, stop: () => stopChild(child) };
  }
  if (cBinary === undefined) throw new Error('the libmilter filter was not built');
  if (cell.mode === 'routing') throw new Error('the libmilter filter has no routing mode');
  const spec = cell.transport === 'unix' ? `unix:${join(dir, `${tag}.sock`)}` : `inet:${await freePort()}@127.0.0.1`;
  const { child, pid } = await startChild(cBinary, ['-p', spec, '-m', cell.mode]);
  return { pid, spec, stop: () => stopChild(child) };
}

function routingVariantOf(filter: FilterKind): RoutingVariant | undefined {
  if (filter === 'routing-domain-list') return 'domain-list';
  return filter === 'routing-defer' ? 'defer' : undefined;
}

function scenarioOf(cell: Cell): Scenario {
  const variant = routingVariantOf(cell.filter);
  if (variant !== undefined) return ROUTING_SCENARIOS[variant];
  return cell.mode === 'routing' ? PLAIN_ROUTING_EVENTS_SCENARIO : PLAIN_SCENARIO;
}

const FILTER_LABELS: Readonly<Record<FilterKind, string>> = {
  ours: 'ours',
  c: 'libmilter',
  'routing-domain-list': 'routing (domain-list)',
  'routing-defer': 'routing (defer)',
};

/** The filters one transport/mode/N group runs, in the order they run within a round. */
function filtersFor(mode: Mode, chosen: readonly FilterChoice[], cBuilt: boolean): FilterKind[] {
  const kinds: FilterKind[] = [];
  if (chosen.includes('ours')) kinds.push('ours');
  if (mode === 'routing') {
    if (chosen.includes('routing')) kinds.push(...Object.values(ROUTING_KINDS));
  } else if (chosen.includes('c') && cBuilt) {
    kinds.push('c');
  }
  return kinds;
}

async function runCell(cell: Cell, options: Options, dir: string, cBinary: string | undefined): Promise<CellResult> {
  let filter: StartedFilter | undefined;
  try {
    filter = await startFilter(cell, dir, cBinary, options);
    const { pid } = filter;
    let cpuAtStart: number | undefined;
    const load = await runLoad({
      spec: filter.spec,
      connections: cell.n,
      scenario: scenarioOf(cell),
      warmupMs: options.warmupSeconds * 1000,
      measureMs: options.seconds * 1000,
      onMeasureStart: () => {
        cpuAtStart = processCpuMs(pid);
      },
    });
    const cpuAtEnd = processCpuMs(pid);
    const rss = peakRssBytes(pid);
    const latencies = load.latencies;
    const cpu = cpuAtStart === undefined || cpuAtEnd === undefined ? undefined : ((cpuAtEnd - cpuAtStart) / load.measuredMs) * 100;
    return {
      ...cell,
      ok: true,
      perSecond: (load.completed / load.measuredMs) * 1000,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      maxMs: load.maxLatencyMs,
      clientCpuPercent: load.clientCpuPercent,
      peakRssBytes: rss,
      filterCpuPercent: cpu,
      roundsPerSecond: [],
    };
  } catch (err) {
    return { ...cell, ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    await filter?.stop();
  }
}

/** The round with the median tx/s, knowing all rounds' tx/s and the highest peak RSS; a failed round wins. */
function medianRound(rounds: readonly CellResult[]): CellResult {
  const failed = rounds.find((r) => !r.ok);
  if (failed !== undefined) return failed;
  const ok = rounds.filter((r) => r.ok);
  const sorted = [...ok].sort((a, b) => a.perSecond - b.perSecond);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  if (median === undefined) throw new Error('a cell without rounds');
  const rss = ok.map((r) => r.peakRssBytes).filter((b) => b !== undefined);
  return {
    ...median,
    peakRssBytes: rss.length === 0 ? undefined : Math.max(...rss),
    roundsPerSecond: ok.map((r) => r.perSecond),
  };
}

const fixed = (v: number | undefined, digits: number): string => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits));

function describeCell(r: CellResult): string {
  const what = `${r.transport} ${r.mode} N=${r.n} ${FILTER_LABELS[r.filter]}`;
  if (!r.ok) return `${what}: FAILED: ${r.error}`;
  return `${what}: ${fixed(r.perSecond, 0)} tx/s, p50 ${fixed(r.p50Ms, 2)} ms, p99 ${fixed(r.p99Ms, 2)} ms`;
}

function sameCell(a: Cell, b: Cell): boolean {
  return a.transport === b.transport && a.mode === b.mode && a.n === b.n;
}

/**
 * Throughput of `r` against `baseline` in the same cell: the median of the per-round ratios (they
 * run back to back in each round, so they share whatever else the machine was doing); with one
 * round, the plain ratio.
 */
function ratioTo(r: CellResult, baseline: FilterKind, all: readonly CellResult[]): number | undefined {
  if (!r.ok) return undefined;
  const base = all.find((o) => o.filter === baseline && sameCell(o, r));
  if (base?.ok !== true) return undefined;
  const pairs = r.roundsPerSecond.length === base.roundsPerSecond.length ? r.roundsPerSecond.length : 0;
  const ratios =
    pairs === 0
      ? [r.perSecond / base.perSecond]
      : r.roundsPerSecond.map((mine, i) => mine / (base.roundsPerSecond[i] ?? Number.NaN));
  const finite = ratios.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return finite[Math.floor((finite.length - 1) / 2)];
}

/** ours/C for our plain filter in the C-comparable modes. */
function ratioToC(r: CellResult, all: readonly CellResult[]): number | undefined {
  return r.filter === 'ours' && r.mode !== 'routing' ? ratioTo(r, 'c', all) : undefined;
}

/** routing/plain for the routing filter against the plain filter with the same events. */
function ratioToPlain(r: CellResult, all: readonly CellResult[]): number | undefined {
  return routingVariantOf(r.filter) === undefined ? undefined : ratioTo(r, 'ours', all);
}

/**
 * The filter's CPU time per transaction: what one message costs the filter, whatever else competes
 * for the CPU (throughput drops when another process takes the cores; this mostly does not).
 */
function filterMicrosPerTx(r: CellResult & { readonly ok: true }): number | undefined {
  if (r.filterCpuPercent === undefined || r.perSecond === 0) return undefined;
  return ((r.filterCpuPercent / 100) * 1e6) / r.perSecond;
}

function table(results: readonly CellResult[], rounds: number): string {
  const header = ['transport', 'events', 'N', 'filter', 'tx/s', 'p50 ms', 'p99 ms', 'max ms', 'client CPU %', 'filter CPU %', 'filter µs/tx', 'peak RSS MB', 'ours/C', 'routing/plain'];
  if (rounds > 1) header.push('tx/s per round');
  const rows = results.map((r) => {
    const cells = [r.transport, r.mode, String(r.n), FILTER_LABELS[r.filter]];
    if (!r.ok) return [...cells, 'failed'];
    const ratio = ratioToC(r, results);
    const routingRatio = ratioToPlain(r, results);
    return [
      ...cells,
      fixed(r.perSecond, 0),
      fixed(r.p50Ms, 2),
      fixed(r.p99Ms, 2),
      fixed(r.maxMs, 1),
      fixed(r.clientCpuPercent, 0),
      fixed(r.filterCpuPercent, 0),
      fixed(filterMicrosPerTx(r), 0),
      fixed(r.peakRssBytes === undefined ? undefined : r.peakRssBytes / 2 ** 20, 1),
      ratio === undefined ? '' : `${ratio.toFixed(2)}x`,
      routingRatio === undefined ? '' : `${routingRatio.toFixed(2)}x`,
      ...(rounds > 1 ? [r.roundsPerSecond.map((v) => v.toFixed(0)).join(' ')] : []),
    ];
  });
  return formatTable(header, rows);
}

/** The issue's targets, checked against whatever cells were run. */
function targets(results: readonly CellResult[]): string[] {
  const lines: string[] = [];
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  for (const r of results) {
    const ratio = ratioToC(r, results);
    if (ratio !== undefined && r.transport === 'unix') {
      lines.push(`${verdict(ratio >= 0.8)}  unix ${r.mode} N=${r.n}: ours ${(ratio * 100).toFixed(0)}% of libmilter (target >= 80%)`);
    }
    if (ratio !== undefined && r.transport === 'tcp' && r.n === 1) {
      lines.push(`${verdict(ratio >= 10)}  tcp ${r.mode} N=1: ours ${ratio.toFixed(1)}x libmilter (target >= 10x)`);
    }
    const routingRatio = ratioToPlain(r, results);
    if (routingRatio !== undefined) {
      lines.push(
        `${verdict(routingRatio >= 0.9)}  ${r.transport} N=${r.n}: ${FILTER_LABELS[r.filter]} ${(routingRatio * 100).toFixed(0)}% of the plain engine (target >= 90%)`,
      );
    }
    if (r.ok && r.filter === 'ours' && r.mode !== 'routing' && r.n === 100 && r.peakRssBytes !== undefined) {
      const mb = r.peakRssBytes / 2 ** 20;
      lines.push(`${verdict(mb < 100)}  ${r.transport} ${r.mode} N=100: ours peak RSS ${mb.toFixed(1)} MB (target < 100 MB)`);
    }
  }
  return lines;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-bench-'));
  const cleanUp = (): void => {
    killAllChildren();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanUp();
    process.exit(130);
  });
  try {
    let cBuild: CFilterBuild | undefined;
    if (options.filters.includes('c')) {
      cBuild = await buildCFilter(dir);
      if (!cBuild.ok) process.stdout.write(`libmilter comparison skipped: ${cBuild.reason}\n`);
    }
    const cBinary = cBuild?.ok === true ? cBuild.binary : undefined;
    process.stdout.write(
      `milter benchmark: ${options.seconds} s per cell after ${options.warmupSeconds} s warm-up, ${options.rounds} round(s); ` +
        `node ${process.version}; filters run in their own processes\n`,
    );
    const results: CellResult[] = [];
    for (const transport of options.transports) {
      for (const mode of options.modes) {
        const filters = filtersFor(mode, options.filters, cBinary !== undefined);
        for (const n of options.connections) {
          const rounds = new Map<FilterKind, CellResult[]>(filters.map((f) => [f, []]));
          for (let round = 0; round < options.rounds; round++) {
            for (const filter of filters) {
              const result = await runCell({ transport, mode, n, filter }, options, dir, cBinary);
              process.stdout.write(`  ${describeCell(result)}\n`);
              rounds.get(filter)?.push(result);
            }
          }
          for (const filter of filters) results.push(medianRound(rounds.get(filter) ?? []));
        }
      }
    }
    process.stdout.write(`\n${table(results, options.rounds)}\n\n${targets(results).join('\n')}\n`);
    if (results.some((r) => !r.ok)) process.exitCode = 1;
  } finally {
    cleanUp();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:milter: ${err instanceof Error ? err.message : String(err)}\n`);
  killAllChildren();
  process.exitCode = 64;
});
