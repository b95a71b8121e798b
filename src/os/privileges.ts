// Running unprivileged. Started as root, the daemon binds its listeners first and then switches
// to `user:` (groups, then gid, then uid: each step needs the privilege the next one removes) and
// checks that no way back is left. The plan is pure (who we are + config + accounts -> what to
// do); dropPrivileges is the only code here that changes the process.
import { readFileSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import type { Logger } from '../log.ts';
import type { Config } from '../config/schema.ts';
import type { Accounts } from './accounts.ts';

export interface DropPlan {
  readonly kind: 'drop';
  /** The account's name when /etc/passwd has it (logs, messages). */
  readonly user: string | undefined;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups: the primary group and every /etc/group entry listing the user. */
  readonly groups: readonly number[];
}

export type PrivilegePlan =
  | DropPlan
  /** Nothing to change: not root (and already the configured user), or root allowed by --allow-root. */
  | { readonly kind: 'keep'; readonly root: boolean }
  | { readonly kind: 'refuse'; readonly reason: string };

export interface Identity {
  /** Effective uid and gid of the process now. */
  readonly uid: number;
  readonly gid: number;
}

/** The process's effective ids (-1 where the platform has none). */
export function currentIdentity(): Identity {
  return { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1 };
}

/** What the daemon must do about its privileges before it serves. */
export function planPrivileges(self: Identity, config: Pick<Config, 'user' | 'group'>, accounts: Accounts, allowRoot: boolean): PrivilegePlan {
  if (config.user === undefined) {
    if (self.uid !== 0) return { kind: 'keep', root: false };
    if (allowRoot) return { kind: 'keep', root: true };
    return {
      kind: 'refuse',
      reason: 'started as root without `user:`: set user: to the account the daemon should run as (e.g. onionmx) and it switches to it after binding; to run as root knowingly, start serve with --allow-root',
    };
  }
  const user = accounts.user(config.user);
  if (user === undefined) return { kind: 'refuse', reason: `user: "${config.user}": no such user in /etc/passwd` };
  let gid = user.gid;
  if (config.group !== undefined) {
    gid = accounts.gid(config.group);
    if (gid === undefined) return { kind: 'refuse', reason: `group: "${config.group}": no such group in /etc/group` };
  }
  if (gid === undefined) return { kind: 'refuse', reason: `user: uid ${user.uid} has no /etc/passwd entry: set group: too` };
  if (user.uid === 0) return { kind: 'refuse', reason: 'user: names root, which drops nothing: name an unprivileged account, or start serve with --allow-root to run as root knowingly' };
  if (self.uid === 0) {
    const groups = user.name === undefined ? [gid] : accounts.groupsOf(user.name, gid);
    return { kind: 'drop', user: user.name, uid: user.uid, gid, groups };
  }
  if (self.uid === user.uid && self.gid === gid) return { kind: 'keep', root: false };
  const who = user.name ?? String(user.uid);
  return { kind: 'refuse', reason: `started as uid ${self.uid} gid ${self.gid}, not root: cannot switch to user "${who}" (uid ${user.uid}, gid ${gid}); start it as root or as that user` };
}

/** The ids /proc/self/status reports (real, effective, saved, filesystem), its groups and capabilities. */
export interface ProcStatus {
  readonly uids: readonly number[];
  readonly gids: readonly number[];
  readonly groups: readonly number[];
  readonly capEff: bigint;
  readonly capPrm: bigint;
}

/** Parses /proc/<pid>/status text (pure). */
export function parseProcStatus(text: string): ProcStatus {
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const ids = (name: string): number[] => field(name).split(/\s+/).filter((x) => x !== '').map(Number);
  const caps = (name: string): bigint => BigInt(`0x${field(name) || '0'}`);
  return { uids: ids('Uid'), gids: ids('Gid'), groups: ids('Groups').sort((a, b) => a - b), capEff: caps('CapEff'), capPrm: caps('CapPrm') };
}

/**
 * setgroups, setgid, setuid, in that order, then proves the switch: every uid and gid (real,
 * effective, saved, filesystem) is the target's, the groups are exactly the planned ones, no
 * capability is left, and setuid(0) fails. Throws when any of that does not hold.
 */
export function dropPrivileges(plan: DropPlan): void {
  const p = posixIds();
  p.setgroups([...plan.groups]);
  p.setgid(plan.gid);
  p.setuid(plan.uid);
  const problems: string[] = [];
  if (p.getuid() !== plan.uid || p.geteuid() !== plan.uid) problems.push(`uid ${p.getuid()}/${p.geteuid()}`);
  if (p.getgid() !== plan.gid || p.getegid() !== plan.gid) problems.push(`gid ${p.getgid()}/${p.getegid()}`);
  let status: ProcStatus | undefined;
  try {
    status = parseProcStatus(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    // no /proc: the checks above and below still hold
  }
  if (status !== undefined) {
    if (!status.uids.every((u) => u === plan.uid)) problems.push(`/proc uids ${status.uids.join(' ')}`);
    if (!status.gids.every((g) => g === plan.gid)) problems.push(`/proc gids ${status.gids.join(' ')}`);
    if (status.groups.join(',') !== [...plan.groups].sort((a, b) => a - b).join(',')) problems.push(`groups ${status.groups.join(' ')}`);
    if (status.capEff !== 0n || status.capPrm !== 0n) problems.push(`capabilities left (CapEff ${status.capEff.toString(16)}, CapPrm ${status.capPrm.toString(16)})`);
  }
  let regained = false;
  try {
    p.setuid(0);
    regained = true;
  } catch {
    // EPERM: as it must be
  }
  if (regained) problems.push('setuid(0) succeeded');
  if (problems.length > 0) throw new Error(`switching to uid ${plan.uid} gid ${plan.gid} did not take: ${problems.join('; ')}`);
}

interface PosixIds {
  setgroups(groups: number[]): void;
  setgid(id: number): void;
  setuid(id: number): void;
  getuid(): number;
  geteuid(): number;
  getgid(): number;
  getegid(): number;
}

/** process's id calls, which exist only on POSIX systems. */
function posixIds(): PosixIds {
  const { setgroups, setgid, setuid, getuid, geteuid, getgid, getegid } = process;
  if (setgroups === undefined || setgid === undefined || setuid === undefined || getuid === undefined || geteuid === undefined || getgid === undefined || getegid === undefined) {
    throw new Error('switching users needs a POSIX system');
  }
  return { setgroups, setgid, setuid, getuid, geteuid, getgid, getegid };
}

/**
 * After the switch: SIGHUP re-reads the config file and the maps as the new user, so say at
 * start which of them it cannot read, instead of at the first reload.
 */
export async function warnUnreadable(config: Config, log: Logger): Promise<void> {
  const paths = [...(config.source === undefined ? [] : [config.source]), ...config.maps];
  await Promise.all(
    paths.map(async (path) => {
      try {
        await access(path, constants.R_OK);
      } catch (err) {
        log.warn({ path, err: (err as NodeJS.ErrnoException).code }, 'not readable by the daemon user: a SIGHUP reload will fail until it is');
      }
    }),
  );
}

/**
 * Carries out a plan once every listener is bound: drops (and logs the new identity, and which
 * files a reload could not read) or, for root kept by --allow-root, warns. Throws when the drop fails.
 */
export async function settlePrivileges(plan: DropPlan | { readonly kind: 'keep'; readonly root: boolean }, config: Config, log: Logger): Promise<void> {
  if (plan.kind === 'keep') {
    if (plan.root) log.warn('running as root (--allow-root): set user: to run unprivileged');
    return;
  }
  dropPrivileges(plan);
  log.info({ user: plan.user, uid: plan.uid, gid: plan.gid, groups: plan.groups }, 'switched to the unprivileged user');
  await warnUnreadable(config, log);
}
