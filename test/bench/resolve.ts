// npm run bench:resolve — prints figures, asserts nothing.
//   1. cached decisions per second in process (normalised ASCII domains, sync peek and async resolve),
//      and full-address input with IDN conversion;
//   2. cold SRV lookups per second and p50/p99 latency against a local DNS responder (a child
//      process on 127.0.0.1) with 1, 10 and 100 lookups in flight;
//   3. single flight: 100 concurrent lookups of one domain, and how many queries the server saw.
// Options: --seconds N (per measurement, default 2).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { Resolver } from '../../src/resolve/resolver.ts';
import { createStubResolver } from '../../src/resolve/dns/index.ts';
import { createSrvSource } from '../../src/resolve/srv-source.ts';
import { staticMapFromTexts } from '../../src/resolve/maps/index.ts';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] ?? 2) || 2;

async function startResponder(): Promise<{ port: number; count(): Promise<number>; stop(): void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./dns-responder.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiters: ((line: string) => void)[] = [];
  lines.on('line', (l) => waiters.shift()?.(l));
  const next = (): Promise<string> => new Promise((resolve) => waiters.push(resolve));
  const port = Number(await next());
  return {
    port,
    async count() {
      const answer = next();
      child.stdin.write('count\n');
      return Number((await answer).split(' ')[1]);
    },
    stop() {
      child.stdin.write('exit\n');
    },
  };
}

function makeResolver(port: number): { resolver: Resolver; srv: ReturnType<typeof createSrvSource> } {
  const stub = createStubResolver({ servers: [{ address: '127.0.0.1', port }], attemptTimeoutMs: 2000, deadlineMs: 5000 });
  const srv = createSrvSource({ resolver: stub, cache: { maxEntries: 1_000_000 } });
  const operatorMaps = staticMapFromTexts([{ file: 'bench-pins.yml', text: 'pinned.example: aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion\n' }]);
  return { resolver: new Resolver({ operatorMaps, srv, dnssec: 'required' }), srv };
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function cachedDecisions(port: number): Promise<void> {
  const { resolver } = makeResolver(port);
  const domains = Array.from({ length: 1000 }, (_, i) => `d${i}.cached.example`);
  await Promise.all(domains.map((d) => resolver.resolveDomain(d)));
  const check = resolver.peekDomain(domains[0] ?? '');
  if (check?.kind !== 'route') throw new Error(`warm-up did not route: ${JSON.stringify(check)}`);

  let n = 0;
  let t0 = performance.now();
  const until = t0 + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < 10_000; i++) {
      if (resolver.peekDomain(domains[i % 1000] ?? '') === undefined) throw new Error('cache miss');
    }
    n += 10_000;
  }
  console.log(`cached decisions, peekDomain (sync, normalised ASCII):   ${rate(n, performance.now() - t0)}`);

  n = 0;
  t0 = performance.now();
  const until2 = t0 + seconds * 1000;
  while (performance.now() < until2) {
    for (let i = 0; i < 10_000; i++) await resolver.resolveDomain(domains[i % 1000] ?? '');
    n += 10_000;
  }
  console.log(`cached decisions, resolveDomain (async):                ${rate(n, performance.now() - t0)}`);

  const addresses = domains.slice(0, 500).map((d, i) => (i % 2 === 0 ? `"Some User"@${d.toUpperCase()}.` : `<user${i}@${d}>`));
  const idn = Array.from({ length: 500 }, (_, i) => `jörg${i}@bücher${i}.cached.example`);
  await Promise.all(idn.map((a) => resolver.resolve(a)));
  const inputs = [...addresses, ...idn];
  n = 0;
  t0 = performance.now();
  const until3 = t0 + seconds * 1000;
  while (performance.now() < until3) {
    for (let i = 0; i < 10_000; i++) await resolver.resolve(inputs[i % inputs.length] ?? '');
    n += 10_000;
  }
  console.log(`cached decisions, resolve (full addresses, half IDN):   ${rate(n, performance.now() - t0)}`);
}

async function coldLookups(port: number, count: () => Promise<number>): Promise<void> {
  for (const concurrency of [1, 10, 100]) {
    const { resolver } = makeResolver(port);
    const latencies: number[] = [];
    let next = 0;
    const before = await count();
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    const worker = async (): Promise<void> => {
      while (performance.now() < until) {
        const domain = `c${concurrency}-${next++}.cold.example`;
        const s = performance.now();
        const d = await resolver.resolveDomain(domain);
        latencies.push(performance.now() - s);
        if (d.kind !== 'route') throw new Error(`cold lookup did not route: ${JSON.stringify(d)}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsed = performance.now() - t0;
    const queries = (await count()) - before;
    latencies.sort((a, b) => a - b);
    console.log(
      `cold SRV lookups, ${String(concurrency).padStart(3)} in flight: ${rate(latencies.length, elapsed).padStart(9)}  p50 ${percentile(latencies, 50).toFixed(3)} ms  p99 ${percentile(latencies, 99).toFixed(3)} ms  (${queries} queries for ${latencies.length} lookups)`,
    );
  }
}

async function singleFlight(port: number, count: () => Promise<number>): Promise<void> {
  const { resolver } = makeResolver(port);
  const before = await count();
  const decisions = await Promise.all(Array.from({ length: 100 }, () => resolver.resolveDomain('one.flight.example')));
  const queries = (await count()) - before;
  const onions = new Set(decisions.map((d) => (d.kind === 'route' ? d.onion : d.kind)));
  console.log(`single flight: 100 concurrent lookups of one domain -> ${queries} DNS quer${queries === 1 ? 'y' : 'ies'}, ${onions.size} distinct answer(s)`);
}

const responder = await startResponder();
try {
  console.log(`bench:resolve on ${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}, ${seconds}s per figure`);
  await cachedDecisions(responder.port);
  await coldLookups(responder.port, () => responder.count());
  await singleFlight(responder.port, () => responder.count());
} finally {
  responder.stop();
}
