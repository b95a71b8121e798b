// The milter server: listeners, connection tracking and limits, graceful close. Protocol work
// lives in the session; socket work for one connection in MilterConnection.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { ConfigError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { MilterConnection } from './connection.ts';
import type { HookFailurePolicy, MilterErrorKind } from './hook-call.ts';
import { MilterSession } from './session.ts';
import type { FilterSpec } from './types.ts';
import { Listener, closeGracefully, type ListenAddress } from '../net/listeners.ts';
import type { SocketAccess } from '../net/unix-socket.ts';

export type { ListenAddress } from '../net/listeners.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './wire/constants.ts';

/** socketOwner, socketGroup, socketMode: who may connect to its unix sockets. */
export interface MilterServerOptions extends SocketAccess {
  readonly filter: FilterSpec;
  readonly logger?: Logger;
  /** Connections beyond this are accepted and closed at once, with a log line (default 1000). */
  readonly maxConnections?: number;
  /** Close a connection after this long without MTA traffic (default 7210 s, as libmilter). */
  readonly idleTimeoutMs?: number;
  /** Deadline for each hook except endOfMessage (default 20 s, below Postfix's 30 s milter_command_timeout). */
  readonly hookTimeoutMs?: number;
  /** Deadline for endOfMessage (default 240 s, below Postfix's 300 s milter_content_timeout). */
  readonly eomTimeoutMs?: number;
  /** SMFIR_PROGRESS interval while endOfMessage runs (default 1000 ms). */
  readonly progressIntervalMs?: number;
  /** Largest accepted packet (default 1 MiB); larger ones close the connection before allocation. */
  readonly maxFrameBytes?: number;
  /** Verdict when a hook throws or times out (default tempfail). */
  readonly onHookError?: HookFailurePolicy;
  /** Told of every protocol error, session failure, hook failure or timeout (for metrics). */
  readonly onError?: (kind: MilterErrorKind) => void;
}

export interface MilterServer {
  /** Listens on a Postfix or Sendmail style spec; may be called for several addresses. */
  listen(spec: string): Promise<ListenAddress>;
  /**
   * Stops accepting, lets each session end at QUIT / QUIT_NC / EOF, destroys what remains after
   * `graceMs` (default 10 s), removes unix socket files.
   */
  close(graceMs?: number): Promise<void>;
  readonly connectionCount: number;
}

const PROCESS_TAG = randomBytes(2).toString('hex');

export function createMilterServer(options: MilterServerOptions): MilterServer {
  return new MilterServerImpl(options);
}

class MilterServerImpl implements MilterServer {
  readonly #o: MilterServerOptions;
  readonly #log: Logger;
  readonly #listeners: Listener[] = [];
  readonly #connections = new Set<MilterConnection>();
  #counter = 0;
  #closing: Promise<void> | undefined;

  constructor(options: MilterServerOptions) {
    this.#o = options;
    this.#log = options.logger ?? silentLogger();
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  async listen(spec: string): Promise<ListenAddress> {
    if (this.#closing !== undefined) throw new ConfigError('listen', 'server is closing');
    const listener = await Listener.open(spec, {
      where: 'listen',
      socketOwner: this.#o.socketOwner,
      socketGroup: this.#o.socketGroup,
      socketMode: this.#o.socketMode,
      onConnection: (socket) => {
        this.#accept(socket);
      },
      onError: (err) => {
        this.#log.error({ err }, 'milter listener error');
      },
    });
    this.#listeners.push(listener);
    this.#log.info({ listen: listener.address.spec }, 'milter listening');
    return listener.address;
  }

  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    await closeGracefully(this.#listeners, this.#connections, graceMs);
    this.#log.info('milter server closed');
  }

  #accept(socket: Socket): void {
    const max = this.#o.maxConnections ?? 1000;
    if (this.#closing !== undefined || this.#connections.size >= max) {
      this.#log.warn(
        { connections: this.#connections.size, maxConnections: max, closing: this.#closing !== undefined },
        'milter connection refused: limit reached or shutting down',
      );
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    const id = `${PROCESS_TAG}${(++this.#counter).toString(36)}`;
    const connection = new MilterConnection(
      socket,
      (send) =>
        new MilterSession({
          filter: this.#o.filter,
          id,
          log: this.#log,
          send,
          ...(this.#o.hookTimeoutMs === undefined ? {} : { hookTimeoutMs: this.#o.hookTimeoutMs }),
          ...(this.#o.eomTimeoutMs === undefined ? {} : { eomTimeoutMs: this.#o.eomTimeoutMs }),
          ...(this.#o.progressIntervalMs === undefined ? {} : { progressIntervalMs: this.#o.progressIntervalMs }),
          ...(this.#o.onHookError === undefined ? {} : { onHookError: this.#o.onHookError }),
          ...(this.#o.onError === undefined ? {} : { onError: this.#o.onError }),
        }),
      { maxFrameBytes: this.#o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, idleTimeoutMs: this.#o.idleTimeoutMs ?? 7_210_000, onError: this.#o.onError },
    );
    this.#connections.add(connection);
    const debug = this.#log.isLevelEnabled('debug');
    if (debug) connection.log.debug({ remote: socket.remoteAddress ?? 'unix' }, 'milter connection');
    void connection.done.then(() => {
      this.#connections.delete(connection);
      if (debug) connection.log.debug('milter connection closed');
    });
  }
}
