// `npm run bench:postfix`: what our milter costs a real Postfix. Postfix's smtp-source sends a burst
// to one Postfix instance through an smtpd service with our daemon as its milter and through an
// otherwise identical one without it, alternating, in several pairs; both deliver to Postfix's
// smtp-sink. Reports the time until every message has reached the sink. Measurement only.
//
//   node dist/test/bench/postfix.js [--messages 2000] [--sessions 10] [--pairs 5] [--size 4096]
//                                   [--reuse] [--warmup 200] [--profile DIR] [--node-flags "..."]
//
// Needs root (a Postfix instance) and Debian's postfix + postfix-pcre packages (postfix, postconf,
// smtp-source, smtp-sink); without them it says so and exits 0.
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findProgram } from '../helpers/system.ts';
import { formatTable } from './measure.ts';
import { runBurst, type BurstResult, type BurstSpec } from './postfix-burst.ts';
import { BENCH_DOMAIN, startRig, type PostfixRig } from './postfix-rig.ts';
import { median, throughputRatios } from './postfix-stats.ts';

const PATHS = ['milter', 'plain'] as const;
type Path = (typeof PATHS)[number];

interface Options {
  readonly messages: number;
  readonly sessions: number;
  readonly pairs: number;
  readonly size: number;
  readonly reuse: boolean;
  readonly warmup: number;
  readonly profileDir: string | undefined;
  readonly nodeFlags: readonly string[];
}

interface Run extends BurstResult {
  readonly pair: number;
  readonly path: Path;
}

const HELP = `usage: node dist/test/bench/postfix.js [options]
  --messages N   messages per burst (default 2000)
  --sessions S   parallel SMTP sessions of smtp-source (default 10)
  --pairs P      measured pairs, each one burst with and one without the milter (default 5)
  --size BYTES   message payload (default 4096)
  --reuse        several messages per SMTP connection (smtp-source -d); default: one each
  --warmup N     unmeasured messages per path before the pairs (default 200; 0: none)
  --profile DIR  run the daemon under node --cpu-prof, profile written to DIR at the end
  --node-flags   extra node flags for the daemon, space-separated`;

function wholeNumber(raw: string | undefined, fallback: number, what: string, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${what}: "${raw}" is not a whole number >= ${min}`);
  return n;
}

function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      messages: { type: 'string' },
      sessions: { type: 'string' },
      pairs: { type: 'string' },
      size: { type: 'string' },
      reuse: { type: 'boolean' },
      warmup: { type: 'string' },
      profile: { type: 'string' },
      'node-flags': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  return {
    messages: wholeNumber(values.messages, 2000, 'messages', 1),
    sessions: wholeNumber(values.sessions, 10, 'sessions', 1),
    pairs: wholeNumber(values.pairs, 5, 'pairs', 1),
    size: wholeNumber(values.size, 4096, 'size', 0),
    reuse: values.reuse === true,
    warmup: wholeNumber(values.warmup, 200, 'warmup', 0),
    profileDir: values.profile === undefined ? undefined : resolve(values.profile),
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
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

/** Pair i runs the milter first when i is odd, so neither path always goes first (ABBA). */
function pairOrder(pair: number): readonly Path[] {
  return pair % 2 === 1 ? ['milter', 'plain'] : ['plain', 'milter'];
}

async function burst(rig: PostfixRig, smtpSource: string, options: Options, path: Path | 'sink', messages: number): Promise<BurstResult> {
  const port = path === 'sink' ? rig.sink.port : rig.ports[path];
  const spec: BurstSpec = {
    smtpSource,
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
  const result = await runBurst(spec, rig.sink, rig.daemonPid);
  if (path !== 'sink') await checkBurst(rig, path, mark, messages);
  if (rig.sink.messages !== sentBefore + messages) {
    throw new Error(`${path}: the sink received ${rig.sink.messages - sentBefore} messages, expected ${messages}`);
  }
  return result;
}

/**
 * The premise of the comparison: on the milter path every message was tagged by our daemon and
 * routed by milter_header_checks FILTER; on the plain path none was. Runs after the clock stopped.
 */
async function checkBurst(rig: PostfixRig, path: Path, mark: number, messages: number): Promise<void> {
  await rig.postfix.waitForEmptyQueue({ timeoutMs: 60_000 });
  // postlogd writes the log a little after the fact: wait (bounded) for every delivery's line.
  const deadline = Date.now() + 30_000;
  let text = '';
  for (;;) {
    text = (await readFile(rig.postfix.logFile)).subarray(mark).toString('utf8');
    if (count(text, 'status=sent') >= messages) break;
    if (Date.now() > deadline) throw new Error(`${path}: ${count(text, 'status=sent')} status=sent lines in the Postfix log, expected ${messages}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const filtered = count(text, 'milter-header-filter: header X-Onion-Route: smtptor:[');
  const expected = path === 'milter' ? messages : 0;
  if (filtered !== expected) throw new Error(`${path}: ${filtered} messages routed by FILTER, expected ${expected}`);
  const milterWarning = /warning: [^\n]*milter[^\n]*/i.exec(text);
  if (milterWarning !== null) throw new Error(`${path}: Postfix logged: ${milterWarning[0]}`);
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

function describeRun(label: string, messages: number, r: BurstResult): string {
  const cpu = r.watchedCpuMs === undefined ? '' : `; daemon CPU ${(r.watchedCpuMs / 1000).toFixed(2)} s = ${(r.watchedCpuMs / messages).toFixed(3)} ms/msg`;
  return (
    `${label.padEnd(14)} ${String(messages).padStart(6)} msgs  ${r.seconds.toFixed(3).padStart(7)} s  ` +
    `${(messages / r.seconds).toFixed(0).padStart(5)} msg/s  (all accepted after ${r.acceptSeconds.toFixed(3)} s${cpu}; machine busy ${r.machineBusyPercent.toFixed(0)}%)`
  );
}

function summary(runs: readonly Run[], messages: number): string {
  const rows = PATHS.map((path) => {
    const seconds = runs.filter((r) => r.path === path).map((r) => r.seconds);
    const accept = runs.filter((r) => r.path === path).map((r) => r.acceptSeconds);
    return [
      path === 'milter' ? 'with milter' : 'without',
      String(seconds.length),
      median(seconds).toFixed(3),
      Math.min(...seconds).toFixed(3),
      Math.max(...seconds).toFixed(3),
      (messages / median(seconds)).toFixed(0),
      (messages / Math.max(...seconds)).toFixed(0),
      (messages / Math.min(...seconds)).toFixed(0),
      median(accept).toFixed(3),
    ];
  });
  return formatTable(['path', 'runs', 'median s', 'min s', 'max s', 'median msg/s', 'min msg/s', 'max msg/s', 'accepted s (median)'], rows);
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
  const smtpSource = program('smtp-source');
  if (options.profileDir !== undefined) mkdirSync(options.profileDir, { recursive: true });
  const daemonNodeFlags = [
    ...options.nodeFlags,
    ...(options.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.profileDir]),
  ];
  const rig = await startRig({ smtpSink: program('smtp-sink'), postconf: program('postconf') }, { daemonNodeFlags });
  try {
    const version = (await rig.postfix.postconf('-dh', 'mail_version')).trim();
    const cpu = cpus();
    process.stdout.write(
      `bench:postfix: ${options.messages} messages of ${options.size} bytes over ${options.sessions} sessions ` +
        `(${options.reuse ? 'several messages per connection' : 'one connection per message'}), ${options.pairs} pairs\n` +
        `Postfix ${version}, node ${process.version}, ${cpu.length} CPUs (${cpu[0]?.model ?? 'unknown'}); ` +
        `sink: smtp-sink on 127.0.0.1:${rig.sink.port}\n\n`,
    );
    const calibration = await burst(rig, smtpSource, options, 'sink', options.messages);
    process.stdout.write(`${describeRun('sink alone', options.messages, { ...calibration, watchedCpuMs: undefined })}\n`);
    if (options.warmup > 0) {
      for (const path of PATHS) {
        const r = await burst(rig, smtpSource, options, path, options.warmup);
        process.stdout.write(`${describeRun(`warm-up ${path}`, options.warmup, r)}\n`);
      }
    }
    const runs: Run[] = [];
    for (let pair = 1; pair <= options.pairs; pair++) {
      for (const path of pairOrder(pair)) {
        const r = await burst(rig, smtpSource, options, path, options.messages);
        runs.push({ ...r, pair, path });
        process.stdout.write(`${describeRun(`pair ${pair} ${path}`, options.messages, r)}\n`);
      }
    }
    const { ofMedians, perPair } = throughputRatios(runs);
    process.stdout.write(
      `\n${summary(runs, options.messages)}\n\n` +
        `throughput with / without the milter: ${ofMedians.toFixed(3)} (ratio of the median times); ` +
        `per pair ${perPair.map((r) => r.toFixed(3)).join(' ')} (median ${median(perPair).toFixed(3)})\n` +
        `${ofMedians >= 0.95 ? 'PASS' : 'MISS'}  with the milter ${ofMedians.toFixed(2)} of the milter-less throughput (target >= 0.95; ` +
        `for reference a C libmilter filter reaches 0.64, pymilter 0.38)\n` +
        `DNS queries by the daemon: ${rig.dnsQueries()} (the bench domain is pinned)\n`,
    );
  } finally {
    await rig.close();
  }
  if (options.profileDir !== undefined) process.stdout.write(`daemon CPU profile written to ${options.profileDir}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:postfix: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
