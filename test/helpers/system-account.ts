// Throw-away system users and groups for the privilege tests (root only): created with a random
// name so parallel runs do not collide, removed by the test or, failing that, at process end.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Accounts, parseGroup, parsePasswd } from '../../src/os/accounts.ts';
import { atProcessEnd } from './process-end.ts';

export interface TestAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  remove(): void;
}

export interface TestGroup {
  readonly name: string;
  readonly gid: number;
  remove(): void;
}

/** The programs the helpers run (for needPrograms). */
export const ACCOUNT_PROGRAMS = ['useradd', 'userdel', 'groupadd', 'groupdel'] as const;

function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

function accounts(): Accounts {
  return new Accounts(parsePasswd(readFileSync('/etc/passwd', 'utf8')), parseGroup(readFileSync('/etc/group', 'utf8')));
}

export function createTestGroup(prefix = 'omxg'): TestGroup {
  const name = uniqueName(prefix);
  execFileSync('groupadd', ['--system', name]);
  const release = atProcessEnd(() => execFileSync('groupdel', [name]));
  const gid = accounts().gid(name);
  if (gid === undefined) throw new Error(`groupadd ${name}: not in /etc/group`);
  return {
    name,
    gid,
    remove: () => {
      execFileSync('groupdel', [name]);
      release();
    },
  };
}

/** A system user with a group of its own, member of `supplementary` groups; no home, no shell. */
export function createTestUser(supplementary: readonly string[] = [], prefix = 'omxu'): TestAccount {
  const name = uniqueName(prefix);
  execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', ...(supplementary.length > 0 ? ['--groups', supplementary.join(',')] : []), name]);
  // userdel removes the user's own group with it (USERGROUPS_ENAB).
  const release = atProcessEnd(() => execFileSync('userdel', [name]));
  const user = accounts().user(name);
  if (user?.gid === undefined) throw new Error(`useradd ${name}: not in /etc/passwd`);
  return {
    name,
    uid: user.uid,
    gid: user.gid,
    remove: () => {
      execFileSync('userdel', [name]);
      release();
    },
  };
}
