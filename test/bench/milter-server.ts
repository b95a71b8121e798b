// The benchmark filter on our engine, in a process of its own so that its CPU and memory are
// measured apart from the client's, as the C filter's are.
//   node dist/test/bench/milter-server.js --listen unix:/path|inet:127.0.0.1:0 --mode all|rcpt-eom|routing
//                                         [--routing domain-list|defer] [--log-level info]
// --mode routing without --routing: a plain filter negotiating the routing filter's events; with
// --routing: the real routing filter (milter-routing-setup.ts), its cache warmed before `ready`. Both
// log at --log-level (default info, the daemon's default) as JSON lines to /dev/null, so the cost of
// building the daemon's log lines is in the figures and the cost of the log's reader is not.
// Prints `ready <listen spec>` (with the real port) once it listens; exits on SIGTERM/SIGINT. A
// routing filter that sent DNS queries during the run (a cold cache) says so on stderr at exit.
import { parseArgs } from 'node:util';
import { createDaemonLogger, silentLogger, type Logger } from '../../src/log.ts';
import { createMilterServer } from '../../src/milter/server.ts';
import type { FilterSpec } from '../../src/milter/types.ts';
import { benchFilter, BENCH_MODES, isBenchMode } from './milter-bench-filter.ts';
import { isRoutingVariant, plainRoutingEventsFilter, ROUTING_VARIANTS, startRoutingFilter, type RoutingFilter } from './milter-routing-setup.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];
const isLogLevel = (s: string): s is LogLevel => (LOG_LEVELS as readonly string[]).includes(s);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      mode: { type: 'string', default: 'all' },
      routing: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
    },
    strict: true,
  });
  if (values.listen === undefined) throw new Error('--listen is required');
  const level = values['log-level'];
  if (!isLogLevel(level)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  let filter: FilterSpec;
  let logger: Logger | undefined;
  let routing: RoutingFilter | undefined;
  if (values.mode === 'routing') {
    // The daemon's own logger (batched JSON lines), writing to /dev/null instead of stdout.
    logger = createDaemonLogger(level, '/dev/null').log;
    if (values.routing === undefined) {
      filter = plainRoutingEventsFilter();
    } else {
      if (!isRoutingVariant(values.routing)) throw new Error(`--routing must be one of ${ROUTING_VARIANTS.join(', ')}`);
      routing = await startRoutingFilter(values.routing, logger);
      filter = routing.filter;
    }
  } else {
    if (!isBenchMode(values.mode)) throw new Error(`--mode must be one of ${[...BENCH_MODES, 'routing'].join(', ')}`);
    if (values.routing !== undefined) throw new Error('--routing needs --mode routing');
    filter = benchFilter(values.mode);
  }
  const server = createMilterServer({ filter, maxConnections: 10_000, logger: logger ?? silentLogger() });
  const address = await server.listen(values.listen);
  const stop = (): void => {
    const queries = routing?.queriesAfterWarmup() ?? 0;
    if (queries > 0) process.stderr.write(`milter-server: the routing filter sent ${queries} DNS queries after warm-up: its cache was not warm\n`);
    server
      .close(1000)
      .then(() => routing?.close())
      .then(
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
