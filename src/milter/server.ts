// The milter server: listeners, connection tracking and limits, graceful close. Protocol work
// lives in the session; socket work for one connection in MilterConnection.
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { ConfigError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { formatListenTarget, listenTarget } from '../net/listen-spec.ts';
import { MilterConnection } from './connection.ts';
import type { HookFailurePolicy, MilterErrorKind } from './hook-call.ts';
import { MilterSession } from './session.ts';
import type { FilterSpec } from './types.ts';
import { applySocketAccess, clearStaleSocket, removeSocket } from './unix-socket.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './wire/constants.ts';

export interface MilterServerOptions {
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
  /** Mode of unix sockets, e.g. 0o660. */
  readonly socketMode?: number;
  /** Group of unix sockets: a name or a gid. */
  readonly socketGroup?: string | number;
  /** Told of every protocol error, session failure, hook failure or timeout (for metrics). */
  readonly onError?: (kind: MilterErrorKind) => void;
}

export interface ListenAddress {
  /** Canonical spec: `inet:127.0.0.1:40123`, `inet:[::1]:40123` or `unix:/path`. */
  readonly spec: string;
  readonly port?: number;
  readonly path?: string;
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
  readonly #listeners: { server: Server; path: string | undefined }[] = [];
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
    const target = listenTarget(spec);
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      this.#accept(socket);
    });
    server.on('error', (err) => {
      this.#log.error({ err }, 'milter listener error');
    });
    if (target.kind === 'unix') await clearStaleSocket(target.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (target.kind === 'unix') server.listen(target.path, done);
      else server.listen(target.port, target.host, done);
    });
    let address: ListenAddress;
    if (target.kind === 'unix') {
      this.#listeners.push({ server, path: target.path });
      await applySocketAccess(target.path, this.#o.socketMode, this.#o.socketGroup);
      address = { spec: formatListenTarget(target), path: target.path };
    } else {
      this.#listeners.push({ server, path: undefined });
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : target.port;
      address = { spec: formatListenTarget({ ...target, port }), port };
    }
    this.#log.info({ listen: address.spec }, 'milter listening');
    return address;
  }

  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    const stopped = Promise.all(
      this.#listeners.map(
        ({ server }) =>
          new Promise<void>((resolve) => {
            server.close(() => {
              resolve();
            });
          }),
      ),
    );
    const open = [...this.#connections];
    for (const c of open) c.drain();
    const force = setTimeout(() => {
      for (const c of this.#connections) c.destroy();
    }, graceMs);
    force.unref();
    await Promise.all(open.map((c) => c.done));
    clearTimeout(force);
    await stopped;
    await Promise.all(this.#listeners.flatMap(({ path }) => (path === undefined ? [] : [removeSocket(path)])));
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
    const log = this.#log.child({ conn: id });
    log.debug({ remote: socket.remoteAddress ?? 'unix' }, 'milter connection');
    const connection = new MilterConnection(
      socket,
      (send) =>
        new MilterSession({
          filter: this.#o.filter,
          id,
          log,
          send,
          ...(this.#o.hookTimeoutMs === undefined ? {} : { hookTimeoutMs: this.#o.hookTimeoutMs }),
          ...(this.#o.eomTimeoutMs === undefined ? {} : { eomTimeoutMs: this.#o.eomTimeoutMs }),
          ...(this.#o.progressIntervalMs === undefined ? {} : { progressIntervalMs: this.#o.progressIntervalMs }),
          ...(this.#o.onHookError === undefined ? {} : { onHookError: this.#o.onHookError }),
          ...(this.#o.onError === undefined ? {} : { onError: this.#o.onError }),
        }),
      { maxFrameBytes: this.#o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, idleTimeoutMs: this.#o.idleTimeoutMs ?? 7_210_000, log, onError: this.#o.onError },
    );
    this.#connections.add(connection);
    void connection.done.then(() => {
      this.#connections.delete(connection);
      log.debug('milter connection closed');
    });
  }
}
