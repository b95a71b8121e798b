// Reading the daemon's Prometheus endpoint in tests.
import { request } from 'node:http';

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly type: string;
}

/** GET http://127.0.0.1:<port><path>. */
export function httpGet(port: number, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sample values by `name{a="x",b="y"}` with labels sorted, empty-valued labels dropped. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].filter((l) => l[2] !== '').map((l) => `${l[1]}="${l[2]}"`).sort();
    out.set(`${m[1]}{${labels.join(',')}}`, Number(m[3]));
  }
  return out;
}
