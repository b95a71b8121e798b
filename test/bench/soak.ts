// `npm run soak`: `onionmx-milter serve` under 1000 concurrent milter sessions and 1000 lookup
// connections, then a steady load for --minutes with RSS and descriptors sampled. Prints the
// figures and PASS/FAIL per target; exit status 1 when one fails, 64 on bad options.
//   --sessions N          concurrent milter sessions of the burst (1000)
//   --lookups N           concurrent lookup connections of the burst, half socketmap, half tcp_table (1000)
//   --minutes M           steady phase (30); --warmup-minutes W (a sixth of it, at most 5)
//   --rate R              steady transactions per second (100); --lookup-rate L (200)
//   --steady-sessions S   steady milter sessions (100); --steady-lookups C (20)
//   --sample-seconds S    sampling interval (10)
//   --bare                run the daemon without the systemd unit's node flags (the before figures)
//   --node-flags "..."    extra node flags for the daemon
import { parseArgs } from 'node:util';
import { unitNodeFlags } from './soak-daemon.ts';
import { mb, runSoak, type SoakReport } from './soak-run.ts';

const MB = 1024 * 1024;
const TARGET_100_MB = 60;
const TARGET_1000_MB = 150;
const MAX_GROWTH = 0.05;

function options(): Parameters<typeof runSoak>[0] {
  const { values } = parseArgs({
    options: {
      sessions: { type: 'string', default: '1000' },
      lookups: { type: 'string', default: '1000' },
      minutes: { type: 'string', default: '30' },
      'warmup-minutes': { type: 'string' },
      rate: { type: 'string', default: '100' },
      'lookup-rate': { type: 'string', default: '200' },
      'steady-sessions': { type: 'string', default: '100' },
      'steady-lookups': { type: 'string', default: '20' },
      'sample-seconds': { type: 'string', default: '10' },
      'node-flags': { type: 'string', default: '' },
      bare: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (name: keyof typeof values): number => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`--${name} must be a positive number`);
    return v;
  };
  const minutes = num('minutes');
  return {
    sessions: Math.round(num('sessions')),
    lookups: Math.round(num('lookups')),
    transactionsEach: 10,
    hundredTransactionsEach: 100,
    lookupsEach: 20,
    steady: {
      durationMs: minutes * 60_000,
      warmupMs: values['warmup-minutes'] === undefined ? Math.min(5, minutes / 6) * 60_000 : num('warmup-minutes') * 60_000,
      sampleEveryMs: num('sample-seconds') * 1000,
      sessions: Math.round(num('steady-sessions')),
      lookupConnections: Math.round(num('steady-lookups')),
      transactionRate: num('rate'),
      lookupRate: num('lookup-rate'),
      reconnectEvery: 50,
    },
    daemon: { runtime: values.bare ? 'bare' : 'unit', nodeFlags: values['node-flags'].split(/\s+/).filter((f) => f !== '') },
    onProgress: (line) => process.stderr.write(`  ${line}\n`),
  };
}

function verdicts(r: SoakReport, o: Parameters<typeof runSoak>[0]): [boolean, string][] {
  const g = r.steady.growth;
  return [
    [r.errors.count === 0, `errors: ${r.errors.count}${r.errors.first.map((e) => `\n    ${e}`).join('')}`],
    [r.full.transactions === o.sessions * o.transactionsEach && r.full.lookups === o.lookups * o.lookupsEach, `burst: ${r.full.transactions} of ${o.sessions * o.transactionsEach} transactions, ${r.full.lookups} of ${o.lookups * o.lookupsEach} lookups answered correctly`],
    [r.hundred.after.peakRssBytes <= TARGET_100_MB * MB, `peak RSS after 100 milter sessions (${r.hundred.transactions} transactions): ${mb(r.hundred.after.peakRssBytes)} MB (target <= ${TARGET_100_MB} MB)`],
    [r.full.after.peakRssBytes <= TARGET_1000_MB * MB, `peak RSS after ${o.sessions} milter sessions + ${o.lookups} lookup connections: ${mb(r.full.after.peakRssBytes)} MB (target <= ${TARGET_1000_MB} MB)`],
    [
      g.growth < MAX_GROWTH,
      `steady RSS growth after warm-up (fitted line): ${(g.growth * 100).toFixed(2)} % (${mb(g.fittedStartBytes)} -> ${mb(g.fittedEndBytes)} MB, ${mb(g.slopeBytesPerHour)} MB/h; peaks of the first and last third ${mb(g.firstThirdPeakBytes)} / ${mb(g.lastThirdPeakBytes)} MB; ${g.samplesAfterWarmup} samples; target < ${MAX_GROWTH * 100} %)`,
    ],
    [r.fdLeak <= 0, `descriptors: idle ${r.idle.fds} before, ${r.idle.fds + r.fdLeak} after all load (leak ${r.fdLeak}); ${g.minFds}-${g.maxFds} under steady load`],
    [r.dnsQueries === 0 && !r.daemonCrashed, `daemon: ${r.daemonCrashed ? 'crashed' : 'running to the end'}, ${r.dnsQueries} DNS queries`],
  ];
}

async function main(): Promise<void> {
  let o: Parameters<typeof runSoak>[0];
  try {
    o = options();
  } catch (err) {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(64);
  }
  const r = await runSoak(o);
  const s = o.steady;
  process.stdout.write(
    `\nsoak: node ${process.version}, daemon node flags "${[...(o.daemon?.runtime === 'bare' ? [] : unitNodeFlags()), ...(o.daemon?.nodeFlags ?? [])].join(' ')}"; steady ${(s.durationMs / 60_000).toFixed(1)} min (warm-up ${(s.warmupMs / 60_000).toFixed(1)} min) at ${s.transactionRate} tx/s over ${s.sessions} sessions + ${s.lookupRate} lookups/s over ${s.lookupConnections} connections, reconnecting every ${s.reconnectEvery} uses\n`,
  );
  const cpu = r.steady.daemonCpuMs;
  process.stdout.write(
    `idle: RSS ${mb(r.idle.rssBytes)} MB; steady: ${r.steady.transactions} transactions, ${r.steady.lookups} lookups, daemon CPU ${((cpu / s.durationMs) * 100).toFixed(1)} % of a core, ${(cpu / r.steady.transactions).toFixed(3)} ms per transaction with its ${(r.steady.lookups / r.steady.transactions).toFixed(1)} lookups\n`,
  );
  process.stdout.write(`100 sessions back to back: daemon CPU ${(r.hundred.daemonCpuMs / r.hundred.transactions).toFixed(3)} ms per transaction\n`);
  process.stdout.write('RSS samples (MB): ' + r.steady.samples.map((x) => mb(x.rssBytes)).join(' ') + '\n');
  process.stdout.write('fd samples: ' + r.steady.samples.map((x) => String(x.fds)).join(' ') + '\n\n');
  let ok = true;
  for (const [pass, line] of verdicts(r, o)) {
    ok &&= pass;
    process.stdout.write(`${pass ? 'PASS' : 'FAIL'}  ${line}\n`);
  }
  process.exit(ok ? 0 : 1);
}

void main();
