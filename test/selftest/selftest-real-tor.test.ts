// The selftest's Tor checks against Debian's real tor, offline inside a loopback-only network
// namespace (tor-netns.ts): its SocksPort answers our SOCKS5 greeting, and an onion it cannot
// reach fails the onion check with Tor's own code (0x06 after the lab's short SocksTimeout).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { startTorLab, type TorLab } from '../helpers/tor-netns.ts';
import { CLI } from '../cli/cli-helpers.ts';

const V3 = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

const skip = needRoot() || needPrograms('tor', 'ip');

describe('selftest against real tor in a loopback-only namespace', { skip }, () => {
  let lab: TorLab;
  before(async () => {
    lab = await startTorLab({ socksTimeoutS: 5 });
  });
  after(async () => {
    await lab.close();
  });

  it("tor's SocksPort passes; an unreachable onion fails with Tor's code 06 and a fix", async () => {
    const pins = join(lab.dir, 'pins.yml');
    const config = join(lab.dir, 'config.yml');
    writeFileSync(pins, `offline.example: ${V3}\n`);
    writeFileSync(config, `milter:\n  listen: unix:${join(lab.dir, 'no-daemon.sock')}\ndns:\n  servers: ["127.0.0.1:53"]\nsrv:\n  enabled: false\nbundled_map: false\nmaps: [${pins}]\ntor:\n  socks: ${lab.socks}\n  connect_timeout: 60s\n`);
    const r = await lab.exec([process.execPath, CLI, 'selftest', '--config', config, '--timeout', '30s']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS {2}tor SocksPort +127\.0\.0\.1:9050 speaks SOCKS5/m, r.stdout + lab.log());
    assert.match(r.stdout, new RegExp(`^FAIL {2}onion answers SMTP via Tor +${V3}:25: UNREACHABLE at connect \\[Tor code 06\\]: .*TTL expired`, 'm'), r.stdout);
    assert.match(r.stdout, /^ {6}fix: retry later/m);
    // No daemon in the lab: the milter check names that too.
    assert.match(r.stdout, /^FAIL {2}milter adds routing header .*no-daemon\.sock/m);
  });
});
