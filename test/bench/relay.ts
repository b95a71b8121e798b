// `npm run bench:relay`: onion mail leaving a real Postfix through our relay against leaving it
// through Postfix's smtp client under torsocks, both through the Tor stand-in, which holds every new
// SOCKS CONNECT for a rendezvous delay, to smtp-sink as the onion's server (relay-rig.ts). Rounds
// alternate the two paths; every burst starts with no SOCKS connection open. Measurement only.
//
//   node dist/test/bench/relay.js [--messages 200] [--rounds 3] [--delay 300] [--sessions 10]
//                                 [--size 4096] [--warmup 200] [--log-level info] [--paths LIST] [--profile DIR]
//
// Needs root (a Postfix instance), Debian's postfix and torsocks (postfix, postconf, smtp-source,
// smtp-sink, torsocks); without them it says so and exits 0.
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findProgram } from '../helpers/system.ts';
import { formatTable, peakRssBytes } from './measure.ts';
import { runBurst, type BurstResult, type BurstSpec } from './postfix-burst.ts';
import { BENCH_ONION } from './postfix-rig.ts';
import { median, roundOrder, throughputRatios } from './postfix-stats.ts';
import { CONNECTION_IDLE, PATH_DOMAIN, PATH_SERVICE, relayProbes, startRelayRig, verifyRelayBurst, type RelayBenchPath as Path, type RelayRig } from './relay-rig.ts';
import { smtpSourceRecipients } from './sink-dump.ts';
import { wholeNumber } from './cli-options.ts';

const ALL_PATHS: readonly Path[] = ['relay', 'torsocks', 'torsocks-nocache'];
const PATH_LABEL: Readonly<Record<Path, string>> = {
  relay: '(a) relay',
  torsocks: '(b) torsocks smtp',
  'torsocks-nocache': '(c) torsocks, no cache',
};
/** The CPU the issue compares: the relay's own process, the torsocks'd smtp processes. */
const OWN_CPU: Readonly<Record<Path, string>> = { relay: 'relay', torsocks: PATH_SERVICE.torsocks, 'torsocks-nocache': PATH_SERVICE['torsocks-nocache'] };
const TARGET_SPEEDUP = 3;
const COLD_TIMEOUT_MS = 30_000;

interface Options {
  readonly messages: number;
  readonly rounds: number;
  readonly delayMs: number;
  readonly sessions: number;
  readonly size: number;
  readonly warmup: number;
  readonly logLevel: string;
  readonly paths: readonly Path[];
  readonly profileDir: string | undefined;
}

interface Run extends BurstResult {
  readonly round: number;
  readonly path: Path;
  readonly connects: number;
}

const HELP = `usage: node dist/test/bench/relay.js [options]
  --messages N   messages per burst, all to one onion (default 200)
  --rounds R     measured rounds, each one burst per path, alternating which goes first (default 3)
  --delay MS     the fake Tor holds every new CONNECT this long, as a rendezvous (default 300)
  --sessions S   parallel SMTP sessions of smtp-source into Postfix (default 10)
  --size BYTES   message payload (default 4096)
  --warmup N     unmeasured messages per path before the rounds (default 200; 0: none)
  --log-level L  the daemon's log.level (default info: one line per delivery, as deployed)
  --paths LIST   of relay, torsocks, torsocks-nocache (default all; relay and torsocks are
                 the issue's (a) and (b))
  --profile DIR  run the daemon under node --cpu-prof, profile written to DIR at the end`;

function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      messages: { type: 'string' },
      rounds: { type: 'string' },
      delay: { type: 'string' },
      sessions: { type: 'string' },
      size: { type: 'string' },
      warmup: { type: 'string' },
      'log-level': { type: 'string' },
      paths: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  return {
    messages: wholeNumber(values.messages, 200, 'messages', 1),
    rounds: wholeNumber(values.rounds, 3, 'rounds', 1),
    delayMs: wholeNumber(values.delay, 300, 'delay', 0),
    sessions: wholeNumber(values.sessions, 10, 'sessions', 1),
    size: wholeNumber(values.size, 4096, 'size', 0),
    warmup: wholeNumber(values.warmup, 200, 'warmup', 0),
    logLevel: values['log-level'] ?? 'info',
    paths: parsePaths(values.paths),
    profileDir: values.profile === undefined ? undefined : resolve(values.profile),
  };
}

function parsePaths(raw: string | undefined): Path[] {
  if (raw === undefined) return [...ALL_PATHS];
  const names = raw.split(',').map((p) => p.trim());
  const unknown = names.filter((p) => !(ALL_PATHS as readonly string[]).includes(p));
  if (unknown.length > 0 || names.length === 0) throw new Error(`--paths: unknown ${unknown.join(', ')} (of ${ALL_PATHS.join(', ')})`);
  return ALL_PATHS.filter((p) => names.includes(p));
}

const PROGRAMS = ['postfix', 'postconf', 'postqueue', 'sendmail', 'smtp-source', 'smtp-sink', 'torsocks'] as const;

/** Why the bench cannot run here, or undefined when it can. */
function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (it starts a throw-away Postfix instance)';
  const missing = PROGRAMS.filter((p) => findProgram(p) === undefined);
  if (missing.length > 0) return `missing programs: ${missing.join(', ')} (Debian packages postfix, torsocks)`;
  return undefined;
}

function program(name: string): string {
  const path = findProgram(name);
  if (path === undefined) throw new Error(`program not found: ${name}`);
  return path;
}

/** Every burst starts cold: no SOCKS client connected (idle pool sessions and cached connections gone). */
async function waitForNoStreams(rig: RelayRig): Promise<void> {
  const deadline = Date.now() + COLD_TIMEOUT_MS;
  while (rig.tor.clientsOpen > 0) {
    if (Date.now() > deadline) throw new Error(`${rig.tor.clientsOpen} SOCKS connections still open after ${COLD_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function burst(rig: RelayRig, options: Options, path: Path, messages: number): Promise<BurstResult & { connects: number }> {
  await waitForNoStreams(rig);
  const recipient = `user@${PATH_DOMAIN[path]}`;
  const spec: BurstSpec = {
    smtpSource: program('smtp-source'),
    port: rig.postfix.smtpPort,
    messages,
    sessions: options.sessions,
    size: options.size,
    reuse: true,
    recipient,
    timeoutMs: 120_000 + messages * (options.delayMs + 100),
  };
  const marks = { log: await rig.postfix.logMark(), sink: rig.sinkMark() };
  const connectsBefore = rig.tor.connects(`${BENCH_ONION}:25`);
  const sentBefore = rig.sink.messages;
  const result = await runBurst(spec, rig.sink, relayProbes(rig));
  const connects = rig.tor.connects(`${BENCH_ONION}:25`) - connectsBefore;
  await verifyRelayBurst(rig, path, marks, smtpSourceRecipients(recipient, messages));
  if (rig.sink.messages !== sentBefore + messages) throw new Error(`${path}: the sink counted ${rig.sink.messages - sentBefore} messages, expected ${messages}`);
  if (rig.tor.requests.length !== rig.tor.connects(`${BENCH_ONION}:25`)) throw new Error('a SOCKS request other than a CONNECT to the bench onion');
  return { ...result, connects };
}

function perMessage(ms: number | undefined, messages: number): string {
  return ms === undefined ? '?' : (ms / messages).toFixed(3);
}

function describeRun(label: string, messages: number, r: BurstResult & { connects: number }): string {
  const cpu = Object.entries(r.cpuMs)
    .map(([name, ms]) => `${name} ${perMessage(ms, messages)}`)
    .join(', ');
  return (
    `${label.padEnd(26)} ${String(messages).padStart(5)} msgs  ${r.seconds.toFixed(3).padStart(7)} s  ` +
    `${(messages / r.seconds).toFixed(1).padStart(6)} msg/s  ${String(r.connects).padStart(4)} CONNECTs  ` +
    `busy ${r.machineBusyPercent.toFixed(0)}%  CPU ms/msg: ${cpu}`
  );
}

function cpuMedian(runs: readonly Run[], probe: string, messages: number): number | undefined {
  const values = runs.map((r) => r.cpuMs[probe]).filter((v): v is number => v !== undefined);
  return values.length === 0 ? undefined : median(values) / messages;
}

function summaryTable(runs: readonly Run[], paths: readonly Path[], probes: readonly string[], messages: number): string {
  const rows = paths.map((path) => {
    const mine = runs.filter((r) => r.path === path);
    const rates = mine.map((r) => messages / r.seconds);
    return [
      PATH_LABEL[path],
      String(mine.length),
      median(rates).toFixed(1),
      Math.min(...rates).toFixed(1),
      Math.max(...rates).toFixed(1),
      mine.map((r) => r.connects).join(' '),
      ...probes.map((p) => {
        const v = cpuMedian(mine, p, messages);
        return v === undefined ? '?' : v.toFixed(3);
      }),
    ];
  });
  return formatTable(['path', 'runs', 'msg/s median', 'min', 'max', 'CONNECTs per round', ...probes.map((p) => `${p} CPU ms/msg`)], rows);
}

async function main(): Promise<void> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench:relay: ${err instanceof Error ? err.message : String(err)}\n${HELP}\n`);
    process.exitCode = 64;
    return;
  }
  if (options === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const why = missingPrerequisite();
  if (why !== undefined) {
    process.stdout.write(`bench:relay skipped: ${why}\n`);
    return;
  }
  if (options.profileDir !== undefined) mkdirSync(options.profileDir, { recursive: true });
  const rig = await startRelayRig(
    { smtpSink: program('smtp-sink'), postconf: program('postconf'), torsocks: program('torsocks') },
    {
      connectDelayMs: options.delayMs,
      daemonLogLevel: options.logLevel,
      ...(options.profileDir === undefined ? {} : { daemonNodeFlags: ['--cpu-prof', '--cpu-prof-dir', options.profileDir] }),
    },
  );
  try {
    await measure(rig, options);
  } finally {
    await rig.close();
  }
  if (options.profileDir !== undefined) process.stdout.write(`daemon CPU profile written to ${options.profileDir}\n`);
}

async function measure(rig: RelayRig, options: Options): Promise<void> {
  const version = (await rig.postfix.postconf('-dh', 'mail_version')).trim();
  const cpu = cpus();
  const probes = Object.keys(relayProbes(rig));
  const { paths } = options;
  process.stdout.write(
    `bench:relay: ${options.messages} messages of ${options.size} bytes to one onion, injected over ${options.sessions} SMTP sessions; ` +
      `${options.rounds} rounds of ${paths.join(', ')}; ${options.delayMs} ms per new SOCKS CONNECT; idle connections kept ${CONNECTION_IDLE} on every path\n` +
      `Postfix ${version}, node ${process.version}, ${cpu.length} CPUs (${cpu[0]?.model ?? 'unknown'}); daemon log level ${options.logLevel}\n` +
      `CPU ms/msg (run time of every thread, /proc/<pid>/task/*/schedstat): relay = onionmx-milter serve; ${probes.slice(1, -1).join(', ')} = the\n` +
      `client processes of those master.cf services; reaped = CPU of Postfix processes that exited during the burst\n` +
      `(the master's cutime + cstime; 0: nothing escaped the per-process reading)\n\n`,
  );
  if (options.warmup > 0) {
    for (const path of paths) process.stdout.write(`${describeRun(`warm-up ${path}`, options.warmup, await burst(rig, options, path, options.warmup))}\n`);
  }
  const runs: Run[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const path of roundOrder(paths, round)) {
      const r = await burst(rig, options, path, options.messages);
      runs.push({ ...r, round, path });
      process.stdout.write(`${describeRun(`round ${round} ${path}`, options.messages, r)}\n`);
    }
  }
  const rss = peakRssBytes(rig.daemonPid);
  const ownCpu = (path: Path): number | undefined => cpuMedian(runs.filter((r) => r.path === path), OWN_CPU[path], options.messages);
  const lines = [`\n${summaryTable(runs, paths, probes, options.messages)}\n`];
  if (paths.includes('relay')) {
    const relayCpu = ownCpu('relay');
    const lmtpCpu = cpuMedian(runs.filter((r) => r.path === 'relay'), 'lmtp', options.messages);
    for (const other of paths.filter((p) => p !== 'relay')) {
      const speedup = throughputRatios(runs, 'relay', other);
      const otherCpu = ownCpu(other);
      const target = other === 'torsocks' ? ' (the issue\'s targets)' : ' (for comparison)';
      lines.push(
        `(a) relay against ${PATH_LABEL[other]}${target}: throughput ${speedup.ofMedians.toFixed(2)}x (ratio of median times); per round ${speedup.perRound.map((r) => r.toFixed(2)).join(' ')}`,
        `${speedup.ofMedians >= TARGET_SPEEDUP ? 'PASS' : 'MISS'}  relay ${speedup.ofMedians.toFixed(2)}x the throughput (target >= ${TARGET_SPEEDUP}x)`,
        `${relayCpu !== undefined && otherCpu !== undefined && relayCpu <= otherCpu ? 'PASS' : 'MISS'}  relay CPU ${relayCpu?.toFixed(3) ?? '?'} ms/msg <= ` +
          `torsocks'd smtp CPU ${otherCpu?.toFixed(3) ?? '?'} ms/msg`,
      );
    }
    lines.push(
      `path (a) with Postfix's lmtp processes: ${relayCpu === undefined || lmtpCpu === undefined ? '?' : (relayCpu + lmtpCpu).toFixed(3)} ms/msg`,
      `relay peak RSS (VmHWM): ${rss === undefined ? '?' : (rss / 2 ** 20).toFixed(1)} MB`,
    );
  }
  const reaped = runs.reduce((n, r) => n + (r.cpuMs['reaped'] ?? 0), 0);
  if (reaped > 0) lines.push(`note: ${reaped} ms of CPU left /proc with exited Postfix processes during bursts: the per-service figures may be low`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:relay: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
