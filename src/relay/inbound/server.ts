// The relay's listeners: unix sockets or loopback TCP only (the relay delivers anything onion-routed
// it is handed, so it must never be reachable from the network), the connection limit (421 beyond
// it), and graceful close. Each connection is thin glue between a socket and a RelaySession.
import type { SocketAccess } from '../../net/unix-socket.ts';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { ConfigError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { Listener, closeGracefully, type Drainable, type ListenAddress } from '../../net/listeners.ts';
import { relayListenProblem } from './listen-policy.ts';
import { answers } from './answers.ts';
import type { DeliveryReport, RelayListenerKind } from './delivery.ts';
import { encodeReply } from './reply.ts';
import { RelaySession, type RelaySettings, type SessionTransport } from './session.ts';
import { CoalescingWriter } from '../coalesce.ts';

/** socketOwner, socketGroup, socketMode: who may connect to its unix sockets. */
export interface RelayServerOptions extends SocketAccess {
  readonly kind: RelayListenerKind;
  /** Read per transaction, so a reload applies to the next one. */
  readonly settings: () => RelaySettings;
  readonly logger?: Logger;
  /** Connections beyond this get 421 4.3.2 and are closed (default 100). */
  readonly maxConnections?: number;
  /** RFC 5321 §4.5.3.2.7 server timeout (default 5 min). */
  readonly idleTimeoutMs?: number;
  readonly onDelivery?: (report: DeliveryReport) => void;
}

export interface RelayServer {
  readonly kind: RelayListenerKind;
  /** `unix:/path` or a loopback `inet:` spec; anything else is refused. */
  listen(spec: string): Promise<ListenAddress>;
  /** Stops accepting, lets transactions in flight finish until graceMs, then aborts them. */
  close(graceMs?: number): Promise<void>;
  readonly connectionCount: number;
}

/** How long the last replies of an abandoned connection may take to leave before the socket is destroyed. */
const ABANDON_FLUSH_MS = 1000;

const PROCESS_TAG = randomBytes(2).toString('hex');

export function createRelayServer(options: RelayServerOptions): RelayServer {
  return new RelayServerImpl(options);
}

class RelayServerImpl implements RelayServer {
  readonly kind: RelayListenerKind;
  readonly #o: RelayServerOptions;
  readonly #log: Logger;
  readonly #listeners: Listener[] = [];
  readonly #connections = new Set<RelayConnection>();
  #counter = 0;
  #closing: Promise<void> | undefined;

  constructor(options: RelayServerOptions) {
    this.#o = options;
    this.kind = options.kind;
    this.#log = (options.logger ?? silentLogger()).child({ relay: options.kind });
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  async listen(spec: string): Promise<ListenAddress> {
    if (this.#closing !== undefined) throw new ConfigError('relay', 'relay server is closing');
    const problem = relayListenProblem(spec);
    if (problem !== undefined) throw new ConfigError('relay', problem);
    const listener = await Listener.open(spec, {
      where: `relay ${this.kind}`,
      socketOwner: this.#o.socketOwner,
      socketGroup: this.#o.socketGroup,
      socketMode: this.#o.socketMode,
      onConnection: (socket) => {
        this.#accept(socket);
      },
      onError: (err) => {
        this.#log.error({ err }, 'relay listener error');
      },
    });
    this.#listeners.push(listener);
    this.#log.info({ listen: listener.address.spec }, 'relay listening');
    return listener.address;
  }

  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= closeGracefully(this.#listeners, this.#connections, graceMs).then(() => {
      this.#log.info('relay server closed');
    });
    return this.#closing;
  }

  #accept(socket: Socket): void {
    socket.on('error', () => undefined);
    const max = this.#o.maxConnections ?? 100;
    const name = this.#o.settings().heloName;
    if (this.#closing !== undefined || this.#connections.size >= max) {
      this.#log.warn({ connections: this.#connections.size, maxConnections: max, closing: this.#closing !== undefined }, 'relay connection refused: limit reached or shutting down');
      const reply = this.#closing === undefined ? answers.tooManyConnections(name) : answers.shuttingDown(name);
      socket.end(encodeReply(reply), () => socket.destroy());
      return;
    }
    const id = `${PROCESS_TAG}${(++this.#counter).toString(36)}`;
    const c = new RelayConnection(socket, {
      kind: this.kind,
      settings: this.#o.settings,
      log: this.#log.child({ conn: id }),
      idleTimeoutMs: this.#o.idleTimeoutMs ?? 300_000,
      ...(this.#o.onDelivery === undefined ? {} : { onDelivery: this.#o.onDelivery }),
    });
    this.#connections.add(c);
    void c.done.then(() => this.#connections.delete(c));
  }
}

/** Socket <-> session: bytes in, replies out, reading paused while the session or the socket's write side asks. */
class RelayConnection implements Drainable {
  readonly done: Promise<void>;
  readonly #socket: Socket;
  readonly #session: RelaySession;
  #sessionPaused = false;
  #writeBlocked = false;

  constructor(socket: Socket, o: { readonly kind: RelayListenerKind; readonly settings: () => RelaySettings; readonly log: Logger; readonly idleTimeoutMs: number; readonly onDelivery?: (r: DeliveryReport) => void }) {
    this.#socket = socket;
    // Replies that become ready in one turn (the final replies of one LMTP dot, say) go out together.
    const out = new CoalescingWriter(socket);
    const transport: SessionTransport = {
      write: (text) => {
        if (socket.destroyed) return;
        if (!out.write(text) && !this.#writeBlocked) {
          // The MTA does not read its replies: stop reading its commands until it does.
          this.#writeBlocked = true;
          this.#flow();
          socket.once('drain', () => {
            this.#writeBlocked = false;
            this.#flow();
          });
        }
      },
      pause: () => {
        this.#sessionPaused = true;
        this.#flow();
      },
      resume: () => {
        this.#sessionPaused = false;
        this.#flow();
      },
      close: () => {
        if (!socket.destroyed) socket.end(() => socket.destroy());
      },
    };
    this.#session = new RelaySession({ kind: o.kind, settings: o.settings, transport, log: o.log, idleTimeoutMs: o.idleTimeoutMs, ...(o.onDelivery === undefined ? {} : { onDelivery: o.onDelivery }) });
    this.done = new Promise((resolve) => {
      socket.once('close', () => {
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      this.#session.receive(chunk);
    });
    socket.on('end', () => {
      this.#session.inputEnded();
    });
    socket.on('close', () => {
      this.#session.lost();
    });
    this.#session.start();
  }

  drain(): void {
    this.#session.drain();
  }

  /** The grace is over: what is still owed gets a temporary reply, then the socket closes (destroyed if that takes too long). */
  destroy(): void {
    this.#session.abandon();
    if (!this.#socket.destroyed) setTimeout(() => this.#socket.destroy(), ABANDON_FLUSH_MS).unref();
  }

  #flow(): void {
    if (this.#socket.destroyed) return;
    if (this.#sessionPaused || this.#writeBlocked) this.#socket.pause();
    else this.#socket.resume();
  }
}
