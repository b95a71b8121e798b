// Minimal MTA-side clients for the lookup protocols, as Postfix, Sendmail and Exim use them: one
// persistent connection, one request in flight (or pipelined on purpose), replies read in order.
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { NetstringDecoder, encodeNetstring } from '../../src/lookup/netstring.ts';
import { LineDecoder, percentEncode } from '../../src/lookup/tcp-table-codec.ts';

export type Endpoint = { readonly port: number; readonly host?: string } | { readonly path: string };

function open(endpoint: Endpoint): Socket {
  return 'path' in endpoint ? connect(endpoint.path) : connect(endpoint.port, endpoint.host ?? '127.0.0.1');
}

/** Replies in arrival order; `next()` waits for the next one. Also reports EOF. */
class ReplyQueue {
  readonly #replies: string[] = [];
  readonly #waiters: ((v: string | undefined) => void)[] = [];
  #ended = false;

  push(r: string): void {
    const w = this.#waiters.shift();
    if (w === undefined) this.#replies.push(r);
    else w(r);
  }

  end(): void {
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  /** The next reply, or undefined at EOF. */
  next(): Promise<string | undefined> {
    const r = this.#replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

export interface LookupClient {
  /** Sends one request and waits for its reply (undefined if the server closed). */
  ask(...request: string[]): Promise<string | undefined>;
  /** Writes raw bytes (pipelined requests, garbage). */
  write(bytes: string | Buffer): void;
  next(): Promise<string | undefined>;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
  close(): void;
}

async function client(endpoint: Endpoint, framing: 'netstring' | 'line', encode: (request: string[]) => Buffer): Promise<LookupClient> {
  const socket = open(endpoint);
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const queue = new ReplyQueue();
  const ns = new NetstringDecoder(1_000_000);
  const lines = new LineDecoder(1_000_000);
  socket.on('data', (chunk: Buffer) => {
    if (framing === 'netstring') {
      const r = ns.push(chunk);
      for (const f of r.frames) queue.push(f.toString('utf8'));
      if (!r.ok) socket.destroy(new Error(r.reason));
    } else {
      const r = lines.push(chunk);
      for (const l of r.lines) queue.push(l.toString('latin1'));
    }
  });
  const closed = new Promise<void>((resolve) => {
    socket.on('close', () => {
      queue.end();
      resolve();
    });
  });
  socket.on('error', () => undefined);
  return {
    ask(...request) {
      socket.write(encode(request));
      return queue.next();
    },
    write(bytes) {
      socket.write(bytes);
    },
    next: () => queue.next(),
    closed,
    close() {
      socket.destroy();
    },
  };
}

/** Postfix/Sendmail socketmap: ask(name, key) -> `OK value`, `NOTFOUND `, `TEMP reason`, ... */
export function socketmapClient(endpoint: Endpoint): Promise<LookupClient> {
  return client(endpoint, 'netstring', ([name = '', key = '']) => encodeNetstring(`${name} ${key}`));
}

/** Postfix tcp_table: ask(key) -> `200 value` (still %XX-encoded), `500 ...`, `400 ...`. */
export function tcpTableClient(endpoint: Endpoint): Promise<LookupClient> {
  return client(endpoint, 'line', ([key = '']) => Buffer.from(`get ${percentEncode(key)}\n`, 'latin1'));
}

/** Exim ${readsocket}: connect, write, optionally shut down the write side, read to EOF. */
export async function eximAsk(endpoint: Endpoint, request: string, options: { readonly shutdown?: boolean } = {}): Promise<string> {
  const socket = open(endpoint);
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    socket.on('end', resolve);
    socket.on('error', reject);
  });
  if (options.shutdown ?? true) socket.end(request);
  else socket.write(request);
  await ended;
  socket.destroy();
  return Buffer.concat(chunks).toString('utf8');
}
