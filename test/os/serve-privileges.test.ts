// `serve` started as root with `user:` set, as a non-systemd init would start it: every listener
// bound as root with its own owner, group and mode, then the process runs as the user (all four
// uids and gids, exactly its groups, no capabilities) and a SIGHUP reload reads as that user.
// Without user: it refuses before binding anything. Started as the user itself (systemd User=),
// a setgid directory gives the socket its group. Needs root (throw-away accounts are created).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { ACCOUNT_PROGRAMS, createTestGroup, createTestUser, type TestAccount, type TestGroup } from '../helpers/system-account.ts';
import { startDaemon, type DaemonProcess } from '../helpers/e2e-daemon.ts';
import { routeHeaderFor } from '../helpers/milter-transaction.ts';
import { runCli } from '../cli/cli-helpers.ts';
import { parseProcStatus } from '../../src/os/privileges.ts';

const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const B = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';
const skip = needRoot() || needPrograms(...ACCOUNT_PROGRAMS);

/** A config for a test daemon: no DNS (maps only), sockets and pins in `dir`. */
function config(dir: string, head: string, sections = ''): string {
  return `${head}
milter:
  listen: unix:${dir}/sock/milter.sock
  submission_listen: unix:${dir}/sock/submission.sock
${sections}maps: [${dir}/pins.yml]
bundled_map: false
srv: {enabled: false}
dns: {servers: ["127.0.0.1:9"]}
`;
}

function socketOf(path: string): { uid: number; gid: number; mode: number } {
  const st = statSync(path);
  assert.ok(st.isSocket(), path);
  return { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
}

/** A world-readable temp dir (the daemon's user must read its config and maps). */
function readableTempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), name));
  chmodSync(dir, 0o755);
  return dir;
}

describe('serve as root with user:', { skip }, () => {
  let dir: string;
  let user: TestAccount;
  let extra: TestGroup;
  let sockets: TestGroup;
  let daemon: DaemonProcess;

  before(async () => {
    extra = createTestGroup();
    sockets = createTestGroup();
    user = createTestUser([extra.name]);
    dir = readableTempDir('onionmx-privileges-');
    mkdirSync(join(dir, 'sock'));
    chownSync(join(dir, 'sock'), user.uid, sockets.gid);
    chmodSync(join(dir, 'sock'), 0o750);
    writeFileSync(join(dir, 'pins.yml'), `pinned.example: ${A}\n`);
    const path = join(dir, 'config.yml');
    writeFileSync(
      path,
      config(
        dir,
        `user: ${user.name}`,
        `  socket_group: ${sockets.name}\n  socket_mode: "0660"\nlookup:\n  socketmap: unix:${dir}/sock/lookup.sock\n  socket_group: ${extra.gid}\n  socket_mode: "0600"\n`,
      ),
    );
    // Readable by the user through its group only, as /etc/onionmx-milter/config.yml would be.
    chownSync(path, 0, user.gid);
    chmodSync(path, 0o640);
    daemon = await startDaemon(path, { allowRoot: false });
    await daemon.waitFor(/switched to the unprivileged user/);
  });
  after(async () => {
    await daemon.kill();
    rmSync(dir, { recursive: true, force: true });
    user.remove();
    extra.remove();
    sockets.remove();
  });

  test('runs as the user: real, effective, saved and filesystem ids, its groups, no capabilities', () => {
    const status = parseProcStatus(readFileSync(`/proc/${String(daemon.child.pid)}/status`, 'utf8'));
    assert.deepEqual(status.uids, [user.uid, user.uid, user.uid, user.uid]);
    assert.deepEqual(status.gids, [user.gid, user.gid, user.gid, user.gid]);
    assert.deepEqual(status.groups, [user.gid, extra.gid].sort((a, b) => a - b));
    assert.equal(status.capEff, 0n);
    assert.equal(status.capPrm, 0n);
  });

  test('each socket has its section owner, group and mode; unset owner is the user', () => {
    assert.deepEqual(socketOf(join(dir, 'sock/milter.sock')), { uid: user.uid, gid: sockets.gid, mode: 0o660 });
    assert.deepEqual(socketOf(join(dir, 'sock/submission.sock')), { uid: user.uid, gid: sockets.gid, mode: 0o660 });
    assert.deepEqual(socketOf(join(dir, 'sock/lookup.sock')), { uid: user.uid, gid: extra.gid, mode: 0o600 });
  });

  test('serves a milter transaction after the switch', async () => {
    assert.equal(await routeHeaderFor(`unix:${dir}/sock/milter.sock`, 'u@pinned.example'), `onionrelay:[${A}]:25`);
  });

  test('SIGHUP reloads as the user: a new pin routes; a map only root can read is refused', async () => {
    writeFileSync(join(dir, 'pins.yml'), `pinned.example: ${A}\nnew.example: ${B}\n`);
    let mark = daemon.mark();
    daemon.child.kill('SIGHUP');
    await daemon.waitFor(/configuration reloaded/, { since: mark });
    assert.equal(await routeHeaderFor(`unix:${dir}/sock/milter.sock`, 'u@new.example'), `onionrelay:[${B}]:25`);

    chmodSync(join(dir, 'pins.yml'), 0o600);
    mark = daemon.mark();
    daemon.child.kill('SIGHUP');
    const rejected = await daemon.waitFor(/reload rejected/, { since: mark });
    assert.match(String(rejected['err']), /EACCES|permission/i);
    assert.equal(await routeHeaderFor(`unix:${dir}/sock/milter.sock`, 'u@new.example'), `onionrelay:[${B}]:25`);
  });

  test('SIGTERM drains, exits 0 and the user removes its sockets', async () => {
    assert.equal(await daemon.stop(), 0);
    for (const s of ['milter', 'submission', 'lookup']) assert.equal(existsSync(join(dir, `sock/${s}.sock`)), false, s);
  });
});

describe('serve as root without user:', { skip }, () => {
  test('refuses before binding, naming user: and --allow-root; exit 78', async () => {
    const dir = readableTempDir('onionmx-refuse-');
    try {
      mkdirSync(join(dir, 'sock'));
      writeFileSync(join(dir, 'pins.yml'), `pinned.example: ${A}\n`);
      writeFileSync(join(dir, 'config.yml'), config(dir, '# no user:'));
      const r = await runCli(['serve', '--config', join(dir, 'config.yml')]);
      assert.equal(r.status, 78, r.stderr);
      assert.match(r.stderr, /started as root without `user:`.*--allow-root/);
      assert.equal(existsSync(join(dir, 'sock/milter.sock')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unknown user: is refused the same way', async () => {
    const dir = readableTempDir('onionmx-refuse-');
    try {
      writeFileSync(join(dir, 'pins.yml'), '');
      writeFileSync(join(dir, 'config.yml'), config(dir, 'user: onionmx-no-such-user'));
      const r = await runCli(['serve', '--config', join(dir, 'config.yml')]);
      assert.equal(r.status, 78, r.stderr);
      assert.match(r.stderr, /no such user/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('serve started as its user (systemd User=) in a setgid socket directory', { skip }, () => {
  test('the socket takes the directory group without the user being in it', async () => {
    const sockets = createTestGroup();
    const user = createTestUser();
    const dir = readableTempDir('onionmx-setgid-');
    let daemon: DaemonProcess | undefined;
    try {
      mkdirSync(join(dir, 'sock'));
      chownSync(join(dir, 'sock'), user.uid, sockets.gid);
      chmodSync(join(dir, 'sock'), 0o2750);
      writeFileSync(join(dir, 'pins.yml'), `pinned.example: ${A}\n`);
      writeFileSync(join(dir, 'config.yml'), config(dir, `user: ${user.name}`, `  socket_group: ${sockets.name}\n  socket_mode: "0660"\n`));
      daemon = await startDaemon(join(dir, 'config.yml'), { allowRoot: false, uid: user.uid, gid: user.gid });
      const status = parseProcStatus(readFileSync(`/proc/${String(daemon.child.pid)}/status`, 'utf8'));
      assert.equal(status.groups.includes(sockets.gid), false);
      assert.deepEqual(socketOf(join(dir, 'sock/milter.sock')), { uid: user.uid, gid: sockets.gid, mode: 0o660 });
      assert.equal(await routeHeaderFor(`unix:${dir}/sock/milter.sock`, 'u@pinned.example'), `onionrelay:[${A}]:25`);
      assert.equal(await daemon.stop(), 0);
    } finally {
      await daemon?.kill();
      rmSync(dir, { recursive: true, force: true });
      user.remove();
      sockets.remove();
    }
  });
});
