// The shipped systemd files, checked with systemd's own tools: the unit's exposure score
// (systemd-analyze security --offline=true) must stay at 2.0 or lower, its stop timeout must bound
// the daemon's drain, and the sysusers.d and tmpfiles.d snippets, applied to a scratch root, must
// make the user (not in group postfix) and the setgid socket directory. `systemd-analyze verify`
// needs the ExecStart binary and runs on the packed install (test/package/pack-install.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needPrograms } from '../helpers/system.ts';
import { parseGroup, parsePasswd } from '../../src/os/accounts.ts';

const SYSTEMD = fileURLToPath(new URL('../../../examples/systemd/', import.meta.url));
const UNIT = join(SYSTEMD, 'onionmx-milter.service');
const MAX_EXPOSURE = 2.0;

/** The values of `key=` lines in a unit file, in order. */
function unitValues(text: string, key: string): string[] {
  return [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => (m[1] ?? '').trim());
}

describe('examples/systemd/onionmx-milter.service', () => {
  const unit = readFileSync(UNIT, 'utf8');

  test(`systemd-analyze security --offline=true: exposure ${MAX_EXPOSURE.toFixed(1)} or lower`, { skip: needPrograms('systemd-analyze') }, (t) => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', UNIT], { encoding: 'utf8' });
    const m = /Overall exposure level for onionmx-milter\.service: (\d+\.\d+)/.exec(r.stdout);
    assert.ok(m !== null, `no exposure level in:\n${r.stdout}\n${r.stderr}`);
    const score = Number(m[1]);
    t.diagnostic(`exposure level ${score.toFixed(1)}`);
    assert.ok(score <= MAX_EXPOSURE, `exposure ${score} > ${MAX_EXPOSURE}:\n${r.stdout.split('\n').filter((l) => l.startsWith('✗')).join('\n')}`);
  });

  test('reloads with SIGHUP and waits a little longer than the daemon drains, then kills', () => {
    assert.deepEqual(unitValues(unit, 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
    const [start] = unitValues(unit, 'ExecStart');
    const grace = Number(/--grace (\d+)/.exec(start ?? '')?.[1]);
    const [timeout] = unitValues(unit, 'TimeoutStopSec').map(Number);
    assert.ok(Number.isInteger(grace) && timeout !== undefined, `ExecStart --grace and TimeoutStopSec: ${start ?? ''} / ${String(timeout)}`);
    assert.ok(timeout > grace && timeout <= grace + 10, `TimeoutStopSec=${timeout} must bound --grace ${grace} with a small margin`);
  });

  test('starts as its own user with no capability, and may write only the socket directory', () => {
    assert.deepEqual(unitValues(unit, 'User'), ['onionmx']);
    assert.deepEqual(unitValues(unit, 'CapabilityBoundingSet'), ['']);
    assert.deepEqual(unitValues(unit, 'SupplementaryGroups'), []);
    assert.deepEqual(unitValues(unit, 'ReadWritePaths'), ['/var/spool/postfix/onionmx']);
    assert.deepEqual(unitValues(unit, 'ProtectSystem'), ['strict']);
  });
});

describe('sysusers.d and tmpfiles.d snippets, applied to a scratch root', { skip: needPrograms('systemd-sysusers', 'systemd-tmpfiles') }, () => {
  test('make user onionmx outside group postfix, and /var/spool/postfix/onionmx 2750 onionmx:postfix', () => {
    const root = mkdtempSync(join(tmpdir(), 'onionmx-sysroot-'));
    try {
      mkdirSync(join(root, 'etc'));
      writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\npostfix:x:105:105::/var/spool/postfix:/usr/sbin/nologin\n');
      writeFileSync(join(root, 'etc/group'), 'root:x:0:\npostfix:x:105:\n');
      const users = spawnSync('systemd-sysusers', [`--root=${root}`, join(SYSTEMD, 'onionmx-milter.sysusers')], { encoding: 'utf8' });
      assert.equal(users.status, 0, users.stderr);
      const user = parsePasswd(readFileSync(join(root, 'etc/passwd'), 'utf8')).find((u) => u.name === 'onionmx');
      const groups = parseGroup(readFileSync(join(root, 'etc/group'), 'utf8'));
      assert.ok(user !== undefined, 'no onionmx in passwd');
      assert.equal(groups.find((g) => g.gid === user.gid)?.name, 'onionmx', 'its primary group is its own');
      assert.deepEqual(groups.find((g) => g.name === 'postfix')?.members, [], 'not a member of postfix');
      const dirs = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create', join(SYSTEMD, 'onionmx-milter.tmpfiles')], { encoding: 'utf8' });
      assert.equal(dirs.status, 0, dirs.stderr);
      const st = statSync(join(root, 'var/spool/postfix/onionmx'));
      assert.ok(st.isDirectory());
      assert.deepEqual({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }, { mode: 0o2750, uid: user.uid, gid: 105 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
