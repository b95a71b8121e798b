// DNS over one persistent TCP connection per server with many queries in flight (RFC 7766 §6.2.1:
// pipelining, replies in any order). Used for DNS over Tor, where opening a stream costs a
// circuit and seconds: the connection stays open between lookups and reopens on demand.
// Replies are offered to every waiting query's onMessage (the stub's strict matching); a reply
// nobody accepts is dropped. How a connection is opened (directly, or through Tor's SocksPort)
// is the caller's `open` function. Never throws.
import type { Socket } from 'node:net';
import { errorMessage } from '../../errors.ts';
import { DnsTcpFramer, frameTcpMessage } from './tcp-framer.ts';
import type { Endpoint, ExchangeOutcome, OnMessage } from './transport.ts';

export type StreamOpenResult = { readonly ok: true; readonly socket: Socket } | { readonly ok: false; readonly detail: string };

/** Opens a stream to a DNS server; `signal` aborts when the channels close. */
export type StreamOpener = (server: Endpoint, signal: AbortSignal) => Promise<StreamOpenResult>;

export interface PipelinedTcpOptions {
  readonly open: StreamOpener;
  /** Close a connection with no query in flight after this long (RFC 7766 §6.2.3). Default 60 s. */
  readonly idleTimeoutMs?: number;
}

export interface PipelinedTcpStats {
  connectionsOpened: number;
  connectFailures: number;
  queriesSent: number;
  repliesUnmatched: number;
}

interface Waiter {
  /** True when it took the message. */
  offer(message: Buffer): boolean;
  fail(outcome: ExchangeOutcome<never>): void;
  /**
   * The connection its query went out on is gone. A server may close an idle-looking connection
   * just as we reuse it (RFC 7766 §6.2.3 lets either side close): send once more on a new one.
   * False when it already did.
   */
  resend(gone: Socket): boolean;
}

class Channel {
  #socket: Socket | undefined;
  #opening: Promise<Socket | undefined> | undefined;
  #framer = new DnsTcpFramer();
  readonly #waiters = new Set<Waiter>();
  #idle: NodeJS.Timeout | undefined;
  readonly #server: Endpoint;
  readonly #options: PipelinedTcpOptions;
  readonly #stats: PipelinedTcpStats;
  readonly #closed: AbortSignal;

  constructor(server: Endpoint, options: PipelinedTcpOptions, stats: PipelinedTcpStats, closed: AbortSignal) {
    this.#server = server;
    this.#options = options;
    this.#stats = stats;
    this.#closed = closed;
  }

  exchange<T>(payload: Buffer, onMessage: OnMessage<T, Endpoint>, signal: AbortSignal): Promise<ExchangeOutcome<T>> {
    return new Promise((resolve) => {
      let done = false;
      let sentOn: Socket | undefined;
      let resent = false;
      const send = (): void => {
        void this.#connected().then((socket) => {
          if (done || socket === undefined) return; // undefined: #connected failed the waiters
          if (this.#socket !== socket) {
            send(); // it closed between opening and now
            return;
          }
          let frame: Buffer;
          try {
            frame = frameTcpMessage(payload);
          } catch (err) {
            finish({ ok: false, reason: 'network', detail: errorMessage(err) });
            return;
          }
          this.#stats.queriesSent++;
          sentOn = socket;
          socket.write(frame);
        });
      };
      const waiter: Waiter = {
        offer: (message) => {
          const value = onMessage(message, this.#server);
          if (value === undefined) return false;
          finish({ ok: true, value });
          return true;
        },
        fail: (outcome) => {
          finish(outcome);
        },
        resend: (gone) => {
          if (resent || sentOn !== gone) return sentOn === undefined; // not sent yet: it will be
          resent = true;
          sentOn = undefined;
          send();
          return true;
        },
      };
      const finish = (outcome: ExchangeOutcome<T>): void => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
        this.#armIdle();
        resolve(outcome);
      };
      const onAbort = (): void => {
        finish({ ok: false, reason: 'aborted', detail: this.#socket === undefined ? 'no TCP connection to the server before the attempt ended' : 'no TCP reply before the attempt ended' });
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
      this.#disarmIdle();
      send();
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#failAll({ ok: false, reason: 'network', detail: 'DNS channels closed' });
  }

  #connected(): Promise<Socket | undefined> {
    if (this.#socket !== undefined && !this.#socket.destroyed) return Promise.resolve(this.#socket);
    this.#opening ??= this.#options.open(this.#server, this.#closed).then(
      (opened) => this.#adopt(opened),
      (err: unknown) => this.#adopt({ ok: false, detail: errorMessage(err) }),
    );
    return this.#opening;
  }

  #adopt(opened: StreamOpenResult): Socket | undefined {
    this.#opening = undefined;
    if (!opened.ok) {
      this.#stats.connectFailures++;
      this.#failAll({ ok: false, reason: 'network', detail: `cannot open a TCP stream to ${endpointLabel(this.#server)}: ${opened.detail}` });
      return undefined;
    }
    if (this.#closed.aborted) {
      opened.socket.destroy();
      return undefined;
    }
    this.#stats.connectionsOpened++;
    const socket = opened.socket;
    this.#socket = socket;
    this.#framer = new DnsTcpFramer();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = this.#framer.push(chunk);
      } catch (err) {
        socket.destroy();
        this.#failAll({ ok: false, reason: 'malformed', detail: errorMessage(err) });
        return;
      }
      for (const message of messages) {
        let taken = false;
        for (const w of this.#waiters) {
          if (w.offer(message)) {
            taken = true;
            break;
          }
        }
        if (!taken) this.#stats.repliesUnmatched++;
      }
    });
    let gone = false;
    const onGone = (why: string): void => {
      if (gone) return;
      gone = true;
      if (this.#socket === socket) this.#socket = undefined;
      const outcome = { ok: false, reason: 'network', detail: `TCP stream to ${endpointLabel(this.#server)} ${why}` } as const;
      for (const w of [...this.#waiters]) if (!w.resend(socket)) w.fail(outcome);
    };
    socket.on('end', () => {
      // The server closed its side: nothing more will be answered here.
      if (this.#socket === socket) this.#socket = undefined;
    });
    socket.on('error', (err) => {
      onGone(`failed: ${err.message}`);
    });
    socket.on('close', () => {
      onGone('closed before a reply');
    });
    this.#armIdle();
    return socket;
  }

  #failAll(outcome: ExchangeOutcome<never>): void {
    for (const w of [...this.#waiters]) w.fail(outcome);
  }

  #armIdle(): void {
    if (this.#waiters.size > 0 || this.#socket === undefined || this.#idle !== undefined) return;
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#waiters.size === 0) this.#socket?.end();
    }, this.#options.idleTimeoutMs ?? 60_000);
    this.#idle.unref();
  }

  #disarmIdle(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
  }
}

export interface PipelinedTcpChannels {
  /** Same contract as tcpExchange, over the server's shared connection. */
  exchange<T>(server: Endpoint, payload: Buffer, onMessage: OnMessage<T, Endpoint>, signal: AbortSignal): Promise<ExchangeOutcome<T>>;
  readonly stats: Readonly<PipelinedTcpStats>;
  close(): void;
}

export function createPipelinedTcpChannels(options: PipelinedTcpOptions): PipelinedTcpChannels {
  const channels = new Map<string, Channel>();
  const stats: PipelinedTcpStats = { connectionsOpened: 0, connectFailures: 0, queriesSent: 0, repliesUnmatched: 0 };
  const closed = new AbortController();
  return {
    exchange(server, payload, onMessage, signal) {
      if (closed.signal.aborted) return Promise.resolve({ ok: false, reason: 'network', detail: 'DNS channels closed' });
      const key = endpointLabel(server);
      let channel = channels.get(key);
      if (channel === undefined) {
        channel = new Channel(server, options, stats, closed.signal);
        channels.set(key, channel);
      }
      return channel.exchange(payload, onMessage, signal);
    },
    stats,
    close() {
      closed.abort(new Error('DNS channels closed'));
      for (const c of channels.values()) c.close();
      channels.clear();
    },
  };
}

function endpointLabel(server: Endpoint): string {
  return server.address.includes(':') ? `[${server.address}]:${server.port}` : `${server.address}:${server.port}`;
}
