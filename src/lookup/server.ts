// Lookup servers: listeners (TCP and unix sockets, Postfix or Sendmail listen specs), connection
// limits and close. Each connection runs its requests one at a time in arrival order (pipelined
// requests are answered in order), so a slow DNS answer never reorders replies.
import type { Socket } from 'node:net';
import { ConfigError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { Listener, closeGracefully, type ListenAddress } from '../net/listeners.ts';
import type { SocketAccess } from '../net/unix-socket.ts';
import type { LookupAnswerer } from './answerer.ts';
import { createProtocolHandler, type FeedResult, type LookupProtocol, type ProtocolHandler, type ReplyJob } from './protocols.ts';

/** socketOwner, socketGroup, socketMode: who may connect to its unix sockets. */
export interface LookupServerOptions extends SocketAccess {
  readonly protocol: LookupProtocol;
  readonly answerer: LookupAnswerer;
  readonly logger?: Logger;
  /** Connections beyond this are closed at once, with a log line (default 1000). */
  readonly maxConnections?: number;
  /** Close a connection after this long without a request (default 10 min; Exim: 30 s). */
  readonly idleTimeoutMs?: number;
  /** Largest request (default: the protocol's: 10000 socketmap, 4096 tcp_table and Exim). */
  readonly maxRequestBytes?: number;
}

export interface LookupServer {
  readonly protocol: LookupProtocol;
  /** Listens on `inet:host:port`, `inet:port@host`, `unix:/path`, ...; may be called several times. */
  listen(spec: string): Promise<{ readonly spec: string; readonly port?: number; readonly path?: string }>;
  /** Stops accepting, lets connections finish their requests until `graceMs`, then destroys them. */
  close(graceMs?: number): Promise<void>;
  readonly connectionCount: number;
}

/** Requests buffered per connection before we stop reading from it. */
const MAX_QUEUED = 64;

export function createLookupServer(options: LookupServerOptions): LookupServer {
  return new LookupServerImpl(options);
}

class LookupServerImpl implements LookupServer {
  readonly #o: LookupServerOptions;
  readonly #log: Logger;
  readonly #listeners: Listener[] = [];
  readonly #connections = new Set<LookupConnection>();
  #closing: Promise<void> | undefined;

  constructor(options: LookupServerOptions) {
    this.#o = options;
    this.#log = (options.logger ?? silentLogger()).child({ lookup: options.protocol });
  }

  get protocol(): LookupProtocol {
    return this.#o.protocol;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  async listen(spec: string): Promise<ListenAddress> {
    if (this.#closing !== undefined) throw new ConfigError('listen', 'lookup server is closing');
    const listener = await Listener.open(spec, {
      where: `lookup ${this.#o.protocol}`,
      socketOwner: this.#o.socketOwner,
      socketGroup: this.#o.socketGroup,
      socketMode: this.#o.socketMode,
      onConnection: (socket) => {
        this.#accept(socket);
      },
      onError: (err) => {
        this.#log.error({ err }, 'lookup listener error');
      },
    });
    this.#listeners.push(listener);
    this.#log.info({ listen: listener.address.spec }, 'lookup server listening');
    return listener.address;
  }

  close(graceMs = 5000): Promise<void> {
    this.#closing ??= closeGracefully(this.#listeners, this.#connections, graceMs);
    return this.#closing;
  }

  #accept(socket: Socket): void {
    const max = this.#o.maxConnections ?? 1000;
    if (this.#closing !== undefined || this.#connections.size >= max) {
      this.#log.warn({ connections: this.#connections.size, maxConnections: max }, 'lookup connection refused: limit reached or shutting down');
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    const idle = this.#o.idleTimeoutMs ?? (this.#o.protocol === 'exim' ? 30_000 : 600_000);
    const handler = createProtocolHandler(this.#o.protocol, this.#o.answerer, this.#o.maxRequestBytes);
    const c = new LookupConnection(socket, handler, idle, this.#log);
    this.#connections.add(c);
    void c.done.then(() => this.#connections.delete(c));
  }
}

/** Socket glue for one connection: feed bytes to the handler, run its jobs in order, write replies. */
class LookupConnection {
  readonly done: Promise<void>;
  readonly #socket: Socket;
  readonly #handler: ProtocolHandler;
  readonly #log: Logger;
  readonly #queue: ReplyJob[] = [];
  #busy = false;
  #closeAfterQueue = false;
  #finished!: () => void;

  constructor(socket: Socket, handler: ProtocolHandler, idleTimeoutMs: number, log: Logger) {
    this.#socket = socket;
    this.#handler = handler;
    this.#log = log;
    this.done = new Promise((resolve) => (this.#finished = resolve));
    socket.setTimeout(idleTimeoutMs, () => {
      this.#log.debug('lookup connection idle: closing');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      this.#accept(this.#handler.feed(chunk));
    });
    socket.on('end', () => {
      // The peer half-closed: answer what is queued, then close our side too.
      this.#accept(this.#handler.end());
      this.#closeAfterQueue = true;
      this.#pump();
    });
    socket.on('error', (err) => {
      this.#log.debug({ err: err.message }, 'lookup connection error');
    });
    socket.on('close', () => {
      this.#queue.length = 0;
      this.#finished();
    });
  }

  /** Answer what was asked, then close. */
  drain(): void {
    this.#closeAfterQueue = true;
    this.#pump();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #accept(r: FeedResult): void {
    if (r.error !== undefined) this.#log.info({ error: r.error }, 'lookup protocol error: closing the connection');
    for (const job of r.jobs) this.#queue.push(job);
    if (r.close) {
      this.#closeAfterQueue = true;
      this.#socket.pause();
    } else if (this.#queue.length > MAX_QUEUED) {
      this.#socket.pause();
    }
    this.#pump();
  }

  #pump(): void {
    if (this.#busy) return;
    const socket = this.#socket;
    if (socket.destroyed) return;
    socket.cork();
    try {
      for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
        let reply: Buffer | Promise<Buffer>;
        try {
          reply = job();
        } catch (err) {
          this.#fail(err);
          return;
        }
        if (reply instanceof Promise) {
          this.#busy = true;
          reply.then(
            (bytes) => {
              this.#busy = false;
              if (socket.destroyed) return;
              socket.write(bytes);
              this.#pump();
            },
            (err: unknown) => {
              this.#busy = false;
              this.#fail(err);
            },
          );
          return;
        }
        socket.write(reply);
      }
    } finally {
      socket.uncork();
    }
    if (this.#closeAfterQueue) {
      socket.end();
    } else if (socket.isPaused()) {
      socket.resume();
    }
  }

  #fail(err: unknown): void {
    // Never expected (the answerer does not throw); close rather than answer out of order.
    this.#log.error({ err: err instanceof Error ? err.message : String(err) }, 'lookup request failed: closing the connection');
    this.#socket.destroy();
  }
}
