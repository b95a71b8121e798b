// The privilege plan (who we are + user:/group: + accounts -> drop, keep or refuse) and the
// parsers it rests on, without changing any process: the real switch is in serve-privileges.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Accounts, parseGroup, parsePasswd } from '../../src/os/accounts.ts';
import { parseProcStatus, planPrivileges } from '../../src/os/privileges.ts';

const PASSWD = `root:x:0:0:root:/root:/bin/bash
postfix:x:105:105::/var/spool/postfix:/usr/sbin/nologin
onionmx:x:998:998:onionmx-milter:/nonexistent:/usr/sbin/nologin
broken line
`;
const GROUP = `root:x:0:
postfix:x:105:
onionmx:x:998:
maps:x:2000:alice,onionmx
`;
const accounts = new Accounts(parsePasswd(PASSWD), parseGroup(GROUP));
const ROOT = { uid: 0, gid: 0 };
const none = { user: undefined, group: undefined };

describe('accounts', () => {
  test('passwd and group lines parse; malformed ones are skipped', () => {
    assert.deepEqual(parsePasswd(PASSWD).map((u) => u.name), ['root', 'postfix', 'onionmx']);
    assert.deepEqual(parseGroup(GROUP).find((g) => g.name === 'maps'), { name: 'maps', gid: 2000, members: ['alice', 'onionmx'] });
  });

  test('users and groups by name or id; groupsOf is what initgroups would give', () => {
    assert.equal(accounts.user('onionmx')?.uid, 998);
    assert.deepEqual(accounts.user(4242), { name: undefined, uid: 4242, gid: undefined });
    assert.equal(accounts.user('nobody-here'), undefined);
    assert.equal(accounts.gid('postfix'), 105);
    assert.equal(accounts.gid('77'), 77);
    assert.deepEqual(accounts.groupsOf('onionmx', 998), [998, 2000]);
  });
});

describe('planPrivileges', () => {
  test('root without user: is refused, naming user: and the override', () => {
    const p = planPrivileges(ROOT, none, accounts, false);
    assert.equal(p.kind, 'refuse');
    assert.match(p.kind === 'refuse' ? p.reason : '', /user:.*--allow-root/);
  });

  test('--allow-root keeps root; not root without user: keeps what it is', () => {
    assert.deepEqual(planPrivileges(ROOT, none, accounts, true), { kind: 'keep', root: true });
    assert.deepEqual(planPrivileges({ uid: 1000, gid: 1000 }, none, accounts, false), { kind: 'keep', root: false });
  });

  test('root with user: drops to it, its primary group and its supplementary groups', () => {
    assert.deepEqual(planPrivileges(ROOT, { user: 'onionmx', group: undefined }, accounts, false), { kind: 'drop', user: 'onionmx', uid: 998, gid: 998, groups: [998, 2000] });
  });

  test('group: replaces the primary group; a bare uid needs group:', () => {
    const p = planPrivileges(ROOT, { user: 'onionmx', group: 'postfix' }, accounts, false);
    assert.deepEqual(p, { kind: 'drop', user: 'onionmx', uid: 998, gid: 105, groups: [105, 2000] });
    assert.equal(planPrivileges(ROOT, { user: '4242', group: undefined }, accounts, false).kind, 'refuse');
    assert.deepEqual(planPrivileges(ROOT, { user: '4242', group: '4242' }, accounts, false), { kind: 'drop', user: undefined, uid: 4242, gid: 4242, groups: [4242] });
  });

  test('unknown users and groups, and user: root, are refused', () => {
    for (const [user, group, why] of [
      ['nobody-here', undefined, /no such user/],
      ['onionmx', 'no-such-group', /no such group/],
      ['root', undefined, /names root/],
    ] as const) {
      const p = planPrivileges(ROOT, { user, group }, accounts, true);
      assert.equal(p.kind, 'refuse', user);
      assert.match(p.kind === 'refuse' ? p.reason : '', why);
    }
  });

  test('not root: already the configured user is fine (systemd User=); anyone else is refused', () => {
    assert.deepEqual(planPrivileges({ uid: 998, gid: 998 }, { user: 'onionmx', group: undefined }, accounts, false), { kind: 'keep', root: false });
    const other = planPrivileges({ uid: 1000, gid: 1000 }, { user: 'onionmx', group: undefined }, accounts, false);
    assert.match(other.kind === 'refuse' ? other.reason : '', /not root: cannot switch to user "onionmx"/);
    const group = planPrivileges({ uid: 998, gid: 998 }, { user: 'onionmx', group: 'postfix' }, accounts, false);
    assert.equal(group.kind, 'refuse');
  });
});

test('parseProcStatus reads the four uids and gids, the groups and the capability sets', () => {
  const s = parseProcStatus('Name:\tnode\nUid:\t998\t998\t998\t998\nGid:\t105\t105\t105\t105\nGroups:\t2000 105 \nCapPrm:\t0000000000000000\nCapEff:\t000001ffffffffff\n');
  assert.deepEqual(s.uids, [998, 998, 998, 998]);
  assert.deepEqual(s.gids, [105, 105, 105, 105]);
  assert.deepEqual(s.groups, [105, 2000]);
  assert.equal(s.capPrm, 0n);
  assert.equal(s.capEff, 0x1ffffffffffn);
});
