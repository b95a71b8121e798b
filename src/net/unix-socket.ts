// Unix-domain listen sockets: a stale socket file is removed only when it IS a socket and nobody
// answers on it; a live server or a non-socket file is refused. Mode and group are applied after listen.
import { connect } from 'node:net';
import { chmod, chown, lstat, readFile, unlink } from 'node:fs/promises';
import { ConfigError } from '../errors.ts';

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

/** chmod/chgrp after listen. `group` is a name (looked up in /etc/group) or a numeric gid. */
export async function applySocketAccess(path: string, mode: number | undefined, group: string | number | undefined): Promise<void> {
  if (group !== undefined) await chown(path, -1, await resolveGroup(group));
  if (mode !== undefined) await chmod(path, mode);
}

export async function resolveGroup(group: string | number): Promise<number> {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number(group);
  const lines = (await readFile('/etc/group', 'utf8')).split('\n');
  for (const line of lines) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new ConfigError('socket_group', `unknown group "${group}"`);
}

/** Removes our socket file on close, if it is still a socket. */
export async function removeSocket(path: string): Promise<void> {
  try {
    if ((await lstat(path)).isSocket()) await unlink(path);
  } catch {
    // already gone
  }
}
