// Listening sockets and draining connections, shared by the milter and the lookup servers:
// one listen spec -> one bound server (stale unix sockets handled, owner, group and mode applied), and
// a close that stops accepting, lets open connections finish until a grace period, then destroys.
import { createServer, type Server, type Socket } from 'node:net';
import { formatListenTarget, listenTarget } from './listen-spec.ts';
import { applySocketAccess, clearStaleSocket, removeSocket, type SocketAccess } from './unix-socket.ts';

export interface ListenAddress {
  /** Canonical spec: `inet:127.0.0.1:40123`, `inet:[::1]:40123` or `unix:/path`. */
  readonly spec: string;
  readonly port?: number;
  readonly path?: string;
}

export interface ListenOptions extends SocketAccess {
  /** Names the listener in errors, e.g. `milter.listen`. */
  readonly where: string;
  readonly onConnection: (socket: Socket) => void;
  readonly onError: (err: Error) => void;
}

/** A bound listening socket and how to let go of it. */
export class Listener {
  readonly address: ListenAddress;
  readonly #server: Server;
  readonly #path: string | undefined;

  private constructor(server: Server, address: ListenAddress, path: string | undefined) {
    this.#server = server;
    this.address = address;
    this.#path = path;
  }

  /** Binds `spec` (Postfix or Sendmail syntax). TCP sockets get TCP_NODELAY and half-open support. */
  static async open(spec: string, o: ListenOptions): Promise<Listener> {
    const target = listenTarget(spec, o.where);
    const server = createServer({ allowHalfOpen: true, noDelay: true }, o.onConnection);
    server.on('error', o.onError);
    if (target.kind === 'unix') await clearStaleSocket(target.path, o.where);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (target.kind === 'unix') server.listen(target.path, done);
      else server.listen(target.port, target.host, done);
    });
    if (target.kind === 'unix') {
      const listener = new Listener(server, { spec: formatListenTarget(target), path: target.path }, target.path);
      try {
        await applySocketAccess(target.path, o, o.where);
      } catch (err) {
        // A socket we cannot give the configured mode or group must not stay open.
        await listener.stop();
        await listener.removeSocketFile();
        throw err;
      }
      return listener;
    }
    const a = server.address();
    const port = typeof a === 'object' && a !== null ? a.port : target.port;
    return new Listener(server, { spec: formatListenTarget({ ...target, port }), port }, undefined);
  }

  /** Stops accepting. Resolves once the server has closed (after its connections have ended). */
  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  /** Removes the unix socket file, if any (after stop). */
  async removeSocketFile(): Promise<void> {
    if (this.#path !== undefined) await removeSocket(this.#path);
  }
}

export interface Drainable {
  /** Finish what is in progress, then close. */
  drain(): void;
  destroy(): void;
  readonly done: Promise<void>;
}

/**
 * Graceful close: stop every listener, ask each open connection to finish, destroy whatever is
 * still open after `graceMs`, then remove unix socket files.
 */
export async function closeGracefully(listeners: readonly Listener[], connections: ReadonlySet<Drainable>, graceMs: number): Promise<void> {
  const stopped = Promise.all(listeners.map((l) => l.stop()));
  const open = [...connections];
  for (const c of open) c.drain();
  const force = setTimeout(() => {
    for (const c of connections) c.destroy();
  }, graceMs);
  force.unref();
  await Promise.all(open.map((c) => c.done));
  clearTimeout(force);
  await stopped;
  await Promise.all(listeners.map((l) => l.removeSocketFile()));
}
