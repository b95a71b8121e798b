// A real Prometheus server (Debian's prometheus package) for tests: listens on 127.0.0.1 only,
// keeps its TSDB in a temporary directory, scrapes what the given config names (loopback targets)
// and evaluates its rule files. It contacts nothing on its own. Queried over its HTTP API.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram } from './system.ts';
import { freePort } from './ports.ts';
import { httpGet } from './prometheus.ts';
import { stopChild } from './stop-child.ts';
import { atProcessEnd } from './process-end.ts';

export interface PrometheusServer {
  readonly port: number;
  /** GET /api/v1/<path>; throws unless Prometheus answers status "success". */
  api(path: string): Promise<unknown>;
  /** An instant query's result vector. */
  query(promql: string): Promise<readonly { readonly metric: Record<string, string>; readonly value: readonly [number, string] }[]>;
  /** Polls `probe` every 200 ms until it returns a value; fails after `boundMs` (a bound, not a timing assertion). */
  until<T>(what: string, probe: () => Promise<T | undefined>, boundMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** Starts Prometheus with `configYaml` (written next to its data; rule_files may be absolute paths). */
export async function startPrometheus(configYaml: string): Promise<PrometheusServer> {
  const binary = requireProgram('prometheus', 'startPrometheus');
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, configYaml);
  const port = await freePort();
  const output: string[] = [];
  const child: ChildProcess = spawn(binary, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const release = atProcessEnd(() => child.kill('SIGKILL'));
  child.stdout?.setEncoding('utf8').on('data', (d: string) => output.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => output.push(d));

  const until = async <T>(what: string, probe: () => Promise<T | undefined>, boundMs = 20_000): Promise<T> => {
    const give = Date.now() + boundMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}) while waiting for ${what}:\n${output.join('')}`);
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > give) throw new Error(`prometheus: no ${what} within ${boundMs} ms:\n${output.join('')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const api = async (path: string): Promise<unknown> => {
    const answer = await httpGet(port, `/api/v1/${path}`);
    const body = JSON.parse(answer.body) as { status?: string; data?: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus /api/v1/${path}: ${answer.status} ${body.error ?? answer.body}`);
    return body.data;
  };
  const server: PrometheusServer = {
    port,
    api,
    query: async (promql) => {
      const data = (await api(`query?query=${encodeURIComponent(promql)}`)) as { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      if (data.resultType !== 'vector') throw new Error(`${promql}: result type ${data.resultType}, not a vector`);
      return data.result;
    },
    until,
    close: async () => {
      await stopChild(child);
      release();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await until('ready', async () => ((await httpGet(port, '/-/ready')).status === 200 ? true : undefined));
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}
