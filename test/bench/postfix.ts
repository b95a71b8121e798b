// `npm run bench:postfix`: what our milter costs a real Postfix. Postfix's smtp-source sends a burst
// to one Postfix instance through an smtpd service with our daemon as its milter and through an
// otherwise identical one without a milter (and, when libmilter can be built, one with the C
// libmilter filter of bench:milter), in several rounds with rotating order; all deliver to
// Postfix's smtp-sink. Reports the time until every message has reached the sink. Measurement only.
//
//   node dist/test/bench/postfix.js [--messages 2000] [--sessions 10] [--rounds 5] [--size 4096]
//                                   [--connection-per-message] [--warmup 200] [--no-c] [--profile DIR] [--node-flags "..."]
//
// "2,000 messages over 10 sessions": by default each of the 10 SMTP sessions carries its share of
// the burst (smtp-source -d), as a sending MTA with connection caching does; --connection-per-message
// opens a new SMTP session (and so a new milter connection) for every message instead.
//
// Needs root (a Postfix instance) and Debian's postfix + postfix-pcre packages (postfix, postconf,
// smtp-source, smtp-sink); without them it says so and exits 0.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findProgram } from '../helpers/system.ts';
import { buildCFilter } from './c-filter.ts';
import { formatTable } from './measure.ts';
import { processGroupCpuMs, runBurst, type BurstResult, type BurstSpec, type CpuProbe } from './postfix-burst.ts';
import { BENCH_DOMAIN, startRig, verifyBurst, type BenchPath as Path, type PostfixRig } from './postfix-rig.ts';
import { median, roundOrder, throughputRatios } from './postfix-stats.ts';
import { processCpuMs } from './proc-cpu.ts';
import { wholeNumber } from './cli-options.ts';


const PATH_LABEL: Readonly<Record<Path, string>> = {
  milter: 'with our milter',
  plain: 'without milter',
  libmilter: 'with C libmilter',
};

const TARGET_RATIO = 0.95;

interface Options {
  readonly messages: number;
  readonly sessions: number;
  readonly rounds: number;
  readonly size: number;
  readonly reuse: boolean;
  readonly warmup: number;
  readonly compareC: boolean;
  readonly profileDir: string | undefined;
  readonly nodeFlags: readonly string[];
  readonly logLevel: string;
}

interface Run extends BurstResult {
  readonly round: number;
  readonly path: Path;
}

const HELP = `usage: node dist/test/bench/postfix.js [options]
  --messages N   messages per burst (default 2000)
  --sessions S   parallel SMTP sessions of smtp-source (default 10)
  --rounds R     measured rounds, each one burst per path in rotating order (default 5)
  --size BYTES   message payload (default 4096)
  --connection-per-message
                 a new SMTP connection for every message (default: each of the sessions
                 carries its share of the burst, smtp-source -d)
  --warmup N     unmeasured messages per path before the rounds (default 200; 0: none)
  --no-c         skip the C libmilter comparison path
  --profile DIR  run the daemon under node --cpu-prof, profile written to DIR at the end
  --node-flags   extra node flags for the daemon, space-separated
  --log-level L  the daemon's log.level (default info: one line per message, as deployed)`;

function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      messages: { type: 'string' },
      sessions: { type: 'string' },
      rounds: { type: 'string' },
      size: { type: 'string' },
      'connection-per-message': { type: 'boolean' },
      warmup: { type: 'string' },
      'no-c': { type: 'boolean' },
      profile: { type: 'string' },
      'node-flags': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  return {
    messages: wholeNumber(values.messages, 2000, 'messages', 1),
    sessions: wholeNumber(values.sessions, 10, 'sessions', 1),
    rounds: wholeNumber(values.rounds, 5, 'rounds', 1),
    size: wholeNumber(values.size, 4096, 'size', 0),
    reuse: values['connection-per-message'] !== true,
    warmup: wholeNumber(values.warmup, 200, 'warmup', 0),
    compareC: values['no-c'] !== true,
    profileDir: values.profile === undefined ? undefined : resolve(values.profile),
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
    logLevel: values['log-level'] ?? 'info',
  };
}

/** Why the bench cannot run here, or undefined when it can. */
function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (it starts a throw-away Postfix instance)';
  const missing = ['postfix', 'postconf', 'postqueue', 'sendmail', 'smtp-source', 'smtp-sink'].filter((p) => findProgram(p) === undefined);
  if (missing.length > 0) return `missing programs: ${missing.join(', ')} (Debian packages postfix, postfix-pcre)`;
  return undefined;
}

function program(name: string): string {
  const path = findProgram(name);
  if (path === undefined) throw new Error(`program not found: ${name}`);
  return path;
}

interface Bench {
  readonly rig: PostfixRig;
  readonly smtpSource: string;
  readonly options: Options;
  readonly probes: Readonly<Record<string, CpuProbe>>;
}

async function burst(bench: Bench, path: Path | 'sink', messages: number): Promise<BurstResult> {
  const { rig, options } = bench;
  const port = path === 'sink' ? rig.sink.port : rig.ports[path];
  if (port === undefined) throw new Error(`no smtpd service for ${path}`);
  const spec: BurstSpec = {
    smtpSource: bench.smtpSource,
    port,
    messages,
    sessions: options.sessions,
    size: options.size,
    reuse: options.reuse,
    recipient: `user@${BENCH_DOMAIN}`,
    timeoutMs: 120_000 + messages * 100,
  };
  const sentBefore = rig.sink.messages;
  const mark = await rig.postfix.logMark();
  const result = await runBurst(spec, rig.sink, path === 'sink' ? {} : bench.probes);
  if (path !== 'sink') await verifyBurst(rig, path, mark, messages);
  if (rig.sink.messages !== sentBefore + messages) {
    throw new Error(`${path}: the sink received ${rig.sink.messages - sentBefore} messages, expected ${messages}`);
  }
  return result;
}

function perMessage(ms: number | undefined, messages: number): string {
  return ms === undefined ? '?' : (ms / messages).toFixed(3);
}

function describeRun(label: string, messages: number, r: BurstResult): string {
  const cpu = Object.entries(r.cpuMs)
    .map(([name, ms]) => `${name} ${perMessage(ms, messages)}`)
    .join(', ');
  return (
    `${label.padEnd(26)} ${String(messages).padStart(6)} msgs  ${r.seconds.toFixed(3).padStart(7)} s  ` +
    `${(messages / r.seconds).toFixed(0).padStart(5)} msg/s  accepted ${r.acceptSeconds.toFixed(3)} s  ` +
    `busy ${r.machineBusyPercent.toFixed(0)}%${cpu === '' ? '' : `  CPU ms/msg: ${cpu}`}`
  );
}

function summaryTable(runs: readonly Run[], paths: readonly Path[], probeNames: readonly string[], messages: number): string {
  const rows = paths.map((path) => {
    const mine = runs.filter((r) => r.path === path);
    const seconds = mine.map((r) => r.seconds);
    const cpu = probeNames.map((name) => {
      const values = mine.map((r) => r.cpuMs[name]).filter((v): v is number => v !== undefined);
      return values.length === 0 ? '?' : perMessage(median(values), messages);
    });
    return [
      PATH_LABEL[path],
      String(seconds.length),
      median(seconds).toFixed(3),
      Math.min(...seconds).toFixed(3),
      Math.max(...seconds).toFixed(3),
      (messages / median(seconds)).toFixed(0),
      `${(messages / Math.max(...seconds)).toFixed(0)}-${(messages / Math.min(...seconds)).toFixed(0)}`,
      ...cpu,
    ];
  });
  return formatTable(
    ['path', 'runs', 'median s', 'min s', 'max s', 'msg/s (median)', 'msg/s (range)', ...probeNames.map((n) => `${n} CPU ms/msg`)],
    rows,
  );
}

function ratioLines(runs: readonly Run[], paths: readonly Path[]): string[] {
  return paths
    .filter((p) => p !== 'plain')
    .map((path) => {
      const { ofMedians, perRound } = throughputRatios(runs, path, 'plain');
      return (
        `${PATH_LABEL[path]}: ${ofMedians.toFixed(3)} of the milter-less throughput (ratio of median times); ` +
        `per round ${perRound.map((r) => r.toFixed(3)).join(' ')} (median ${median(perRound).toFixed(3)})`
      );
    });
}

async function main(): Promise<void> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench:postfix: ${err instanceof Error ? err.message : String(err)}\n${HELP}\n`);
    process.exitCode = 64;
    return;
  }
  if (options === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const why = missingPrerequisite();
  if (why !== undefined) {
    process.stdout.write(`bench:postfix skipped: ${why}\n`);
    return;
  }
  if (options.profileDir !== undefined) mkdirSync(options.profileDir, { recursive: true });
  const buildDir = mkdtempSync(join(tmpdir(), 'onionmx-bench-cfilter-'));
  try {
    const cBuild = options.compareC ? await buildCFilter(buildDir) : undefined;
    if (cBuild !== undefined && !cBuild.ok) process.stdout.write(`libmilter comparison skipped: ${cBuild.reason}\n`);
    const rig = await startRig(
      { smtpSink: program('smtp-sink'), postconf: program('postconf') },
      {
        daemonLogLevel: options.logLevel,
        daemonNodeFlags: [...options.nodeFlags, ...(options.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.profileDir])],
        ...(cBuild?.ok === true ? { cFilterBinary: cBuild.binary } : {}),
      },
    );
    try {
      await measure(rig, options);
    } finally {
      await rig.close();
    }
  } finally {
    rmSync(buildDir, { recursive: true, force: true });
  }
  if (options.profileDir !== undefined) process.stdout.write(`daemon CPU profile written to ${options.profileDir}\n`);
}

async function measure(rig: PostfixRig, options: Options): Promise<void> {
  const paths: Path[] = rig.ports.libmilter === undefined ? ['milter', 'plain'] : ['milter', 'plain', 'libmilter'];
  const probes: Record<string, CpuProbe> = {
    postfix: () => processGroupCpuMs(rig.postfixMasterPid),
    daemon: () => processCpuMs(rig.daemonPid),
  };
  const { cFilterPid } = rig;
  if (cFilterPid !== undefined) probes['libmilter'] = () => processCpuMs(cFilterPid);
  const bench: Bench = { rig, smtpSource: program('smtp-source'), options, probes };

  const version = (await rig.postfix.postconf('-dh', 'mail_version')).trim();
  const cpu = cpus();
  process.stdout.write(
    `bench:postfix: ${options.messages} messages of ${options.size} bytes over ${options.sessions} sessions ` +
      `(${options.reuse ? 'several messages per connection' : 'one connection per message'}), ${options.rounds} rounds of ${paths.join(', ')}\n` +
      `Postfix ${version}, node ${process.version}, ${cpu.length} CPUs (${cpu[0]?.model ?? 'unknown'}); smtp-sink on 127.0.0.1:${rig.sink.port}\n` +
      `daemon log level ${options.logLevel}${options.nodeFlags.length > 0 ? `, node flags ${options.nodeFlags.join(' ')}` : ''}\n` +
      `CPU ms/msg: postfix = every process of the instance, daemon = onionmx-milter serve, libmilter = the C filter\n\n`,
  );
  const calibration = await burst(bench, 'sink', options.messages);
  process.stdout.write(`${describeRun('smtp-source -> sink alone', options.messages, calibration)}\n`);
  if (options.warmup > 0) {
    for (const path of paths) process.stdout.write(`${describeRun(`warm-up ${path}`, options.warmup, await burst(bench, path, options.warmup))}\n`);
  }
  const runs: Run[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const path of roundOrder(paths, round)) {
      const r = await burst(bench, path, options.messages);
      runs.push({ ...r, round, path });
      process.stdout.write(`${describeRun(`round ${round} ${path}`, options.messages, r)}\n`);
    }
  }
  const ours = throughputRatios(runs, 'milter', 'plain').ofMedians;
  process.stdout.write(
    `\n${summaryTable(runs, paths, Object.keys(probes), options.messages)}\n\n${ratioLines(runs, paths).join('\n')}\n` +
      `${ours >= TARGET_RATIO ? 'PASS' : 'MISS'}  with our milter ${ours.toFixed(2)} of the milter-less throughput (target >= ${TARGET_RATIO}; ` +
      `the issue's reference: C libmilter 0.64, pymilter 0.38)\n` +
      `DNS queries by the daemon: ${rig.dnsQueries()} (the bench domain is pinned)\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:postfix: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
