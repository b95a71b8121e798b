// `npm run bench:lookup`: Postfix socketmap and tcp_table lookups per second and latency, with 1
// and 10 persistent connections and one request in flight per connection (as Postfix does), for
// static-map hits, cached SRV answers and misses that each need a DNS query (answered by a local
// responder). The servers run in a child process; its CPU per lookup (from /proc) is reported next
// to the client's, so the figures say where the time goes. Not a test: no pass/fail on timing.
//   --seconds N   measuring time per row (default 2)
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startChild, stopChild, killAllChildren } from './child-process.ts';
import { processCpuMs } from './proc-cpu.ts';
import { LatencyRecorder, formatTable, quantile } from './measure.ts';
import { socketmapClient, tcpTableClient, type LookupClient } from '../lookup/lookup-clients.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  const v = i < 0 ? NaN : Number(process.argv[i + 1]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const seconds = arg('--seconds', 2);
const BUDGET_MS = 1000;
const PINNED = 1000;
const SRV_DOMAINS = 1000;

// onionrouter on this kind of machine (from the issue), and the targets derived from it.
const ONIONROUTER_STATIC = 24_000;
const ONIONROUTER_SRV = 4_600;

type Protocol = 'socketmap' | 'tcp_table';
type Kind = 'static hit' | 'cached SRV' | 'miss (DNS)';

interface Row {
  readonly protocol: Protocol;
  readonly kind: Kind;
  readonly connections: number;
  readonly lookups: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly serverCpuUs: number;
  readonly clientCpuUs: number;
  readonly unexpected: number;
}

async function startResponder(): Promise<{ port: number; stop(): void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./dns-responder.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  return { port: Number(first), stop: () => child.stdin.write('exit\n') };
}

let missCounter = 0;
function keyFor(kind: Kind, i: number): string {
  switch (kind) {
    case 'static hit':
      return `user${i}@pin${i % PINNED}.example`;
    case 'cached SRV':
      return `user${i}@srv${i % SRV_DOMAINS}.example`;
    case 'miss (DNS)':
      return `user@miss${++missCounter}.example`;
  }
}

async function measure(ports: Record<Protocol, number>, serverPid: number, protocol: Protocol, kind: Kind, connections: number): Promise<Row> {
  const open = protocol === 'socketmap' ? socketmapClient : tcpTableClient;
  const clients: LookupClient[] = await Promise.all(Array.from({ length: connections }, () => open({ port: ports[protocol] })));
  const ask = (c: LookupClient, key: string): Promise<string | undefined> => (protocol === 'socketmap' ? c.ask('transport', key) : c.ask(key));
  const expected = protocol === 'socketmap' ? 'OK smtptor:' : '200 smtptor:';
  const latencies = new LatencyRecorder();
  let unexpected = 0;
  let stop = false;
  const serverCpu0 = processCpuMs(serverPid) ?? 0;
  const clientCpu0 = process.cpuUsage();
  const t0 = performance.now();
  const timer = setTimeout(() => (stop = true), seconds * 1000);
  await Promise.all(
    clients.map(async (c, n) => {
      for (let i = n; !stop; i += connections) {
        const start = performance.now();
        const reply = await ask(c, keyFor(kind, i));
        latencies.add(performance.now() - start);
        if (reply?.startsWith(expected) !== true) unexpected++;
      }
    }),
  );
  clearTimeout(timer);
  const elapsed = (performance.now() - t0) / 1000;
  const clientCpu = process.cpuUsage(clientCpu0);
  const serverCpuMs = (processCpuMs(serverPid) ?? 0) - serverCpu0;
  for (const c of clients) c.close();
  const sorted = latencies.sorted();
  const n = latencies.count;
  return {
    protocol,
    kind,
    connections,
    lookups: n,
    perSecond: n / elapsed,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? NaN,
    serverCpuUs: (serverCpuMs * 1000) / n,
    clientCpuUs: (clientCpu.user + clientCpu.system) / n,
    unexpected,
  };
}

async function main(): Promise<void> {
  const responder = await startResponder();
  const server = await startChild(process.execPath, [fileURLToPath(new URL('./lookup-server.js', import.meta.url)), String(responder.port), String(BUDGET_MS)]);
  const [sm, tcp] = server.detail.trim().split(/\s+/).map(Number);
  const ports = { socketmap: sm ?? 0, tcp_table: tcp ?? 0 };
  try {
    // Warm the SRV cache (and the JIT) once.
    const warm = await socketmapClient({ port: ports.socketmap });
    for (let i = 0; i < SRV_DOMAINS; i++) await warm.ask('transport', `x@srv${i}.example`);
    for (let i = 0; i < 20_000; i++) await warm.ask('transport', `x@pin${i % PINNED}.example`);
    warm.close();
    const rows: Row[] = [];
    for (const kind of ['static hit', 'cached SRV', 'miss (DNS)'] as const) {
      for (const protocol of ['socketmap', 'tcp_table'] as const) {
        for (const connections of [1, 10]) {
          const row = await measure(ports, server.pid, protocol, kind, connections);
          rows.push(row);
          process.stderr.write(`  ${protocol} ${kind} x${connections}: ${Math.round(row.perSecond)}/s\n`);
        }
      }
    }
    const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
    process.stdout.write(`\nbench:lookup: ${seconds} s per row, one request in flight per connection, lookup.budget ${BUDGET_MS} ms; node ${process.version}\n\n`);
    process.stdout.write(
      formatTable(
        ['protocol', 'keys', 'conns', 'lookups/s', 'p50 ms', 'p99 ms', 'max ms', 'server CPU µs/lookup', 'client CPU µs/lookup', 'bad replies'],
        rows.map((r) => [r.protocol, r.kind, String(r.connections), f(r.perSecond), f(r.p50, 3), f(r.p99, 3), f(r.max, 2), f(r.serverCpuUs, 1), f(r.clientCpuUs, 1), String(r.unexpected)]),
      ) + '\n\n',
    );
    const best = (kind: Kind): Row | undefined => rows.filter((r) => r.kind === kind).sort((a, b) => b.perSecond - a.perSecond)[0];
    const staticBest = best('static hit');
    const srvBest = best('cached SRV');
    const maxWait = Math.max(...rows.map((r) => r.max));
    const line = (label: string, value: number, target: number): string => `${label}: ${f(value)}/s, target ${target}/s: ${value >= target ? 'met' : 'NOT met'}\n`;
    if (staticBest !== undefined) process.stdout.write(line(`static hits (best: ${staticBest.protocol} x${staticBest.connections})`, staticBest.perSecond, 2 * ONIONROUTER_STATIC));
    if (srvBest !== undefined) process.stdout.write(line(`cached SRV (best: ${srvBest.protocol} x${srvBest.connections})`, srvBest.perSecond, 10 * ONIONROUTER_SRV));
    process.stdout.write(`longest wait for any reply: ${f(maxWait, 2)} ms (lookup.budget ${BUDGET_MS} ms: ${maxWait <= BUDGET_MS ? 'never exceeded' : 'EXCEEDED'})\n`);
    process.stdout.write(`server CPU per lookup below the client's means the client is the bottleneck of that row.\n`);
  } finally {
    responder.stop();
    await stopChild(server.child);
  }
}

main().catch((err: unknown) => {
  killAllChildren();
  process.stderr.write(`bench:lookup: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
