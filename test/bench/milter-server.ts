// The benchmark filter on our engine, in a process of its own so that its CPU and memory are
// measured apart from the client's, as the C filter's are.
//   node dist/test/bench/milter-server.js --listen unix:/path|inet:127.0.0.1:0 --mode all|rcpt-eom
// Prints `ready <listen spec>` (with the real port) once it listens; exits on SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { createMilterServer } from '../../src/milter/server.ts';
import { benchFilter, BENCH_MODES, isBenchMode } from './milter-bench-filter.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { listen: { type: 'string' }, mode: { type: 'string', default: 'all' } },
    strict: true,
  });
  if (values.listen === undefined) throw new Error('--listen is required');
  if (!isBenchMode(values.mode)) throw new Error(`--mode must be one of ${BENCH_MODES.join(', ')}`);
  const server = createMilterServer({ filter: benchFilter(values.mode), maxConnections: 10_000 });
  const address = await server.listen(values.listen);
  const stop = (): void => {
    server.close(1000).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`ready ${address.spec}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`milter-server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(64);
});
