// Real Tor, safely offline: Debian's tor inside a loopback-only network namespace, with
// ExtendedErrors and a short SocksTimeout, and our probe in the same namespace. Shows that we
// speak Tor's dialect, not only our stand-in's: a well-formed v3 onion that cannot be reached
// ends in Tor's 0x06 after SocksTimeout, a v2 or bad-checksum onion in 0xF6 at once, and a
// deadline shorter than Tor's ends in our own timeout outcome. Outcomes are asserted, never durations.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { startTorLab, type TorLab } from '../helpers/tor-netns.ts';
import { CLI } from '../cli/cli-helpers.ts';

const SCRIPT = fileURLToPath(new URL('../helpers/tor-probe-script.js', import.meta.url));
const V3 = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const BAD_CHECKSUM = 'qg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const V2 = 'expyuzz4wqqyqhjn.onion';

interface ScriptLine {
  readonly result: { readonly ok: boolean; readonly code: string; readonly rep?: number; readonly stage: string; readonly permanent: boolean };
  readonly text: string;
}

const skip = needRoot() || needPrograms('tor', 'ip');

describe('real tor in a loopback-only namespace', { skip }, () => {
  let lab: TorLab;
  before(async () => {
    lab = await startTorLab({ socksTimeoutS: 5 });
  });
  after(async () => {
    await lab.close();
  });

  const probeRaw = async (timeoutMs: number, ...targets: string[]): Promise<ScriptLine[]> => {
    const r = await lab.exec([process.execPath, SCRIPT, lab.socks, String(timeoutMs), ...targets]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as ScriptLine);
  };

  it('answers a v2 and a bad-checksum onion with 0xF6, reported as an invalid address that will not heal', async () => {
    const lines = await probeRaw(60_000, `${V2}:25`, `${BAD_CHECKSUM}:25`);
    for (const line of lines) {
      assert.equal(line.result.ok, false);
      assert.equal(line.result.code, 'F6', `${line.text}\n${lab.log()}`);
      assert.equal(line.result.permanent, true);
      assert.match(line.text, /\[Tor code F6\]: .*invalid onion address/);
    }
  });

  it('a deadline shorter than SocksTimeout ends in our timeout outcome, not a hang', async () => {
    const [line] = await probeRaw(1000, `${V3}:25`);
    assert.equal(line?.result.code, 'timeout', line?.text);
    assert.equal(line?.result.stage, 'connect');
  });

  it('the probe command answers an unreachable v3 route with Tor\'s 0x06 in words and exit 75', async () => {
    const pins = join(lab.dir, 'pins.yml');
    const config = join(lab.dir, 'config.yml');
    writeFileSync(pins, `offline.example: ${V3}\n`);
    writeFileSync(config, `dns:\n  servers: ["127.0.0.1:53"]\nsrv:\n  enabled: false\nbundled_map: false\nmaps: [${pins}]\ntor:\n  socks: ${lab.socks}\n  connect_timeout: 60s\n`);
    const r = await lab.exec([process.execPath, CLI, 'probe', '--config', config, 'offline.example']);
    assert.equal(r.status, 75, r.stdout + r.stderr + lab.log());
    assert.match(r.stdout, /offline\.example: route .* via static/);
    assert.match(r.stdout, /UNREACHABLE at connect \[Tor code 06\]: .*TTL expired.*\(temporary\)/);
  });
});
