// Unix-domain listen sockets: a stale socket file is removed only when it IS a socket and nobody
// answers on it; a live server or a non-socket file is refused. Owner, group and mode are applied after listen.
import { connect } from 'node:net';
import { chmod, chown, lstat, stat, unlink } from 'node:fs/promises';
import { ConfigError } from '../errors.ts';
import { resolveGid, resolveUid } from '../os/accounts.ts';

/** Makes `path` free for listen(), or throws ConfigError saying why it cannot be. */
export async function clearStaleSocket(path: string, where = 'listen'): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ConfigError(where, `cannot inspect ${path}: ${(err as Error).message}`);
  }
  if (!isSocket) throw new ConfigError(where, `${path} exists and is not a socket; refusing to replace it`);
  if (await answers(path)) throw new ConfigError(where, `${path}: another server is listening on this socket`);
  await unlink(path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}

/**
 * Who may connect to a unix-socket listener, applied right after bind (TCP listeners ignore it).
 * Owner and group are names (from /etc/passwd, /etc/group) or numeric ids; unset leaves what
 * bind gave the socket: the process's user, and its group or the directory's (setgid).
 */
export interface SocketAccess {
  readonly socketOwner?: string | number | undefined;
  readonly socketGroup?: string | number | undefined;
  readonly socketMode?: number | undefined;
}

/**
 * chown/chmod after listen. Nothing is changed that already matches: a daemon that is not root
 * (or runs under a seccomp filter without chown) can then use a setgid directory's group.
 */
export async function applySocketAccess(path: string, access: SocketAccess, where = 'listen'): Promise<void> {
  const st = await stat(path);
  const uid = access.socketOwner === undefined ? -1 : await resolveUid(access.socketOwner, `${where}: socket_owner`);
  const gid = access.socketGroup === undefined ? -1 : await resolveGid(access.socketGroup, `${where}: socket_group`);
  if ((uid !== -1 && uid !== st.uid) || (gid !== -1 && gid !== st.gid)) {
    await chown(path, uid, gid).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ConfigError(where, `cannot give ${path} owner ${String(access.socketOwner ?? st.uid)} and group ${String(access.socketGroup ?? st.gid)}: ${code}${code === 'EPERM' ? ' (only root can give a socket away; a daemon that is not root gets a group by being in it or from a setgid directory)' : ''}`);
    });
  }
  if (access.socketMode !== undefined && (st.mode & 0o7777) !== access.socketMode) await chmod(path, access.socketMode);
}

/** Removes our socket file on close, if it is still a socket. */
export async function removeSocket(path: string): Promise<void> {
  try {
    if ((await lstat(path)).isSocket()) await unlink(path);
  } catch {
    // already gone
  }
}
