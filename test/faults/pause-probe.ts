// A process of its own that asks the daemon's socketmap listener one lookup after another and,
// when its stdin closes, prints the longest wait for an answer as JSON. Apart from the matrix's
// own process (the load, the sinks, the DNS fixture), so their work does not count as the daemon's.
// Usage: node pause-probe.js <port> <key>
import { socketmapClient } from '../lookup/lookup-clients.ts';

export interface PauseFigures {
  readonly maxMs: number;
  readonly lookups: number;
  readonly failures: number;
}

async function main(port: number, key: string): Promise<PauseFigures> {
  let running = true;
  process.stdin.on('end', () => (running = false)).resume();
  const figures = { maxMs: 0, lookups: 0, failures: 0 };
  const client = await socketmapClient({ port });
  try {
    while (running) {
      const started = process.hrtime.bigint();
      const answer = await client.ask('transport', key);
      figures.maxMs = Math.max(figures.maxMs, Number(process.hrtime.bigint() - started) / 1e6);
      figures.lookups++;
      if (answer === undefined) throw new Error('the daemon closed the lookup connection');
      if (!answer.startsWith('OK ')) figures.failures++;
    }
  } finally {
    client.close();
  }
  return figures;
}

main(Number(process.argv[2]), process.argv[3] ?? '').then(
  (figures) => {
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  },
  (err: unknown) => {
    process.stderr.write(`pause probe: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
