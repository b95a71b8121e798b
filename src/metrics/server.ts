// HTTP for operators: GET /metrics (Prometheus text format) and GET /healthz (JSON). Listens on
// `metrics.listen`: `host:port`, `[v6]:port`, a bare port (binds 127.0.0.1) or `inet:`/`unix:` forms.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { unlinkSync } from 'node:fs';
import { parseListenSpec, formatListenTarget } from '../net/listen-spec.ts';
import { ConfigError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from './metrics.ts';
import { metricsListenSpec } from './listen.ts';

export interface MetricsServerOptions {
  readonly listen: string;
  readonly metrics: Metrics;
  /** The /healthz body; `ok: false` answers 503. */
  readonly health: () => { readonly ok: boolean } & Record<string, unknown>;
  readonly log: Logger;
}

export interface MetricsServer {
  /** Canonical address, e.g. `inet:127.0.0.1:9895`. */
  readonly spec: string;
  readonly port: number | undefined;
  close(): Promise<void>;
}

export { metricsListenSpec };

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const parsed = parseListenSpec(metricsListenSpec(options.listen));
  if (!parsed.ok) throw new ConfigError('metrics.listen', parsed.reason);
  const target = parsed.target;
  const server = createServer((req, res) => {
    void handle(options, req, res);
  });
  server.on('error', (err) => {
    options.log.error({ err: err.message }, 'metrics server error');
  });
  if (target.kind === 'tcp') server.listen(target.port, target.host);
  else {
    try {
      unlinkSync(target.path);
    } catch {
      // no stale socket
    }
    server.listen(target.path);
  }
  await once(server, 'listening');
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : undefined;
  const spec = target.kind === 'tcp' ? formatListenTarget({ ...target, port: port ?? target.port }) : formatListenTarget(target);
  options.log.info({ listen: spec }, 'metrics and health endpoint listening');
  return {
    spec,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function handle(options: MetricsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      const body = await options.metrics.text();
      res.writeHead(200, { 'content-type': options.metrics.contentType }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/healthz') {
      const health = options.health();
      res.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(health) + '\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  } catch (err) {
    options.log.error({ err: errorMessage(err) }, 'metrics request failed');
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('internal error\n');
  }
}
