// System accounts from /etc/passwd and /etc/group: the parsers are pure (text in, entries out);
// the lookups read the files. Names are looked up in the files, not through NSS: system users
// (sysusers.d, adduser --system) live there; a numeric id works for any account.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.ts';

export interface UserEntry {
  readonly name: string;
  readonly uid: number;
  /** The primary group. */
  readonly gid: number;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

const ID = /^\d+$/;

/** passwd(5) lines: name:password:uid:gid:gecos:home:shell. Malformed lines are skipped. */
export function parsePasswd(text: string): UserEntry[] {
  const out: UserEntry[] = [];
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === undefined || name === '' || uid === undefined || gid === undefined || !ID.test(uid) || !ID.test(gid)) continue;
    out.push({ name, uid: Number(uid), gid: Number(gid) });
  }
  return out;
}

/** group(5) lines: name:password:gid:member,member. Malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const [name, , gid, members] = line.split(':');
    if (name === undefined || name === '' || gid === undefined || !ID.test(gid)) continue;
    out.push({ name, gid: Number(gid), members: (members ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

/** The accounts of one reading of /etc/passwd and /etc/group. */
export class Accounts {
  readonly users: readonly UserEntry[];
  readonly groups: readonly GroupEntry[];

  constructor(users: readonly UserEntry[], groups: readonly GroupEntry[]) {
    this.users = users;
    this.groups = groups;
  }

  static async read(passwdPath = '/etc/passwd', groupPath = '/etc/group'): Promise<Accounts> {
    const [passwd, group] = await Promise.all([readFile(passwdPath, 'utf8'), readFile(groupPath, 'utf8')]);
    return new Accounts(parsePasswd(passwd), parseGroup(group));
  }

  /** A user by name or numeric uid; a uid without an entry has no name and no primary group. */
  user(nameOrId: string | number): UserEntry | { readonly name: undefined; readonly uid: number; readonly gid: undefined } | undefined {
    const id = numericId(nameOrId);
    if (id !== undefined) return this.users.find((u) => u.uid === id) ?? { name: undefined, uid: id, gid: undefined };
    return this.users.find((u) => u.name === nameOrId);
  }

  /** A gid by name or number; a number is taken as it is. */
  gid(nameOrId: string | number): number | undefined {
    return numericId(nameOrId) ?? this.groups.find((g) => g.name === nameOrId)?.gid;
  }

  /** The supplementary groups initgroups(3) gives a user: its primary group and every group listing it. */
  groupsOf(user: string, primaryGid: number): number[] {
    const gids = [primaryGid, ...this.groups.filter((g) => g.members.includes(user)).map((g) => g.gid)];
    return [...new Set(gids)].sort((a, b) => a - b);
  }
}

function numericId(v: string | number): number | undefined {
  if (typeof v === 'number') return v;
  return ID.test(v) ? Number(v) : undefined;
}

/** A uid for a socket owner: a name (from /etc/passwd) or a number. */
export async function resolveUid(user: string | number, where = 'socket_owner'): Promise<number> {
  const id = numericId(user);
  if (id !== undefined) return id;
  const found = (await Accounts.read()).user(user);
  if (found === undefined) throw new ConfigError(where, `unknown user "${user}"`);
  return found.uid;
}

/** A gid for a socket group: a name (from /etc/group) or a number. */
export async function resolveGid(group: string | number, where = 'socket_group'): Promise<number> {
  const id = numericId(group);
  if (id !== undefined) return id;
  const found = (await Accounts.read()).gid(group);
  if (found === undefined) throw new ConfigError(where, `unknown group "${group}"`);
  return found;
}
