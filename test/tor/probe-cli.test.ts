// `onionmx-milter probe` end to end: resolver from config, the Tor stand-in, an SMTP sink.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { runCli } from '../cli/cli-helpers.ts';

const UP = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const DOWN = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';
const AUTH = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';
const HANG = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';

describe('probe command', () => {
  let dns: DnsTestServer;
  let tor: FakeTor;
  let sink: Sink;
  let dir: string;
  let config: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-probe-'));
    sink = await startSink();
    tor = await startFakeTor({
      routes: { [`${UP}:25`]: { host: '127.0.0.1', port: sink.port }, [`${UP}:2525`]: { host: '127.0.0.1', port: sink.port } },
      replies: { [DOWN]: { kind: 'fail', rep: 0xf2 }, [AUTH]: { kind: 'fail', rep: 0xf4 }, [HANG]: { kind: 'hang' } },
    });
    dns = await startDnsServer({
      zones: [{ origin: 'example', soa: { ttl: 300, minimum: 60 }, records: [{ name: '_onion-mx._tcp.srv.example', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 2525, target: UP } }] }],
      behaviour: () => ({ kind: 'zone', ad: true }),
    });
    writeFileSync(join(dir, 'pins.yml'), `up.example: ${UP}\ndown.example: ${DOWN}\nauth.example: ${AUTH}\nhang.example: ${HANG}\n`);
    config = join(dir, 'config.yml');
    writeFileSync(config, `dns:\n  servers: ["127.0.0.1:${dns.port}"]\n  timeout: 500ms\n  deadline: 1s\nbundled_map: false\nmaps: [${join(dir, 'pins.yml')}]\ntor:\n  socks: 127.0.0.1:${tor.port}\n  connect_timeout: 300ms\n`);
  });
  after(async () => {
    await tor.close();
    await sink.close();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reachable routes (pinned and SRV) exit 0 with greeting and capabilities', async () => {
    const r = await runCli(['probe', '--config', config, 'up.example', 'someone@srv.example']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /up\.example: route .* via static/);
    assert.match(r.stdout, new RegExp(`${UP}:25: reachable, connected in [\\d.]+ s; greeting "sink\\.test ESMTP test sink"; capabilities: PIPELINING, 8BITMIME, SMTPUTF8`));
    assert.match(r.stdout, new RegExp(`${UP}:2525: reachable`));
    const users = tor.requests.filter((q) => q.host === UP).map((q) => q.username);
    assert.ok(users.every((u) => u === `onionmx:${UP}`));
  });

  it('Tor F2 is temporary: 75, the code in words', async () => {
    const r = await runCli(['probe', '--config', config, 'down.example']);
    assert.equal(r.status, 75);
    assert.match(r.stdout, /\[Tor code F2\]: .*introduction failed/);
  });

  it('Tor F4, no route and an invalid onion will not heal: 69', async () => {
    const auth = await runCli(['probe', '--config', config, 'auth.example']);
    assert.equal(auth.status, 69);
    assert.match(auth.stdout, /\[Tor code F4\].*client authorization.*will not heal/);
    const none = await runCli(['probe', '--config', config, 'nobody.example']);
    assert.equal(none.status, 69);
    assert.match(none.stdout, /no route/);
    const invalid = await runCli(['probe', '--config', config, `${UP.slice(0, 10)}aaaa${UP.slice(14)}:25`]);
    assert.equal(invalid.status, 69);
    assert.match(invalid.stdout, /invalid onion target/);
  });

  it('a hanging SocksPort ends in the timeout outcome under the configured deadline: 75', async () => {
    const r = await runCli(['probe', '--config', config, '--json', 'hang.example']);
    assert.equal(r.status, 75);
    const line = JSON.parse(r.stdout.trim()) as { probe: { ok: boolean; code: string; stage: string } };
    assert.deepEqual([line.probe.ok, line.probe.stage, line.probe.code], [false, 'connect', 'timeout']);
  });

  it('mixed inputs: 69 wins over 75; direct onion:port targets skip the resolver', async () => {
    const r = await runCli(['probe', '--config', config, 'down.example', 'auth.example', `${UP}:2525`]);
    assert.equal(r.status, 69);
    assert.match(r.stdout, new RegExp(`${UP}:2525: direct\\n  ${UP}:2525: reachable`));
  });

  it('usage errors exit 64; an unreachable SocksPort is a temporary failure', async () => {
    assert.equal((await runCli(['probe', '--config', config])).status, 64);
    assert.equal((await runCli(['probe', '--config', config, '--timeout', 'soon', 'up.example'])).status, 64);
    assert.equal((await runCli(['probe', '--config', config, '--socks', 'nowhere', 'up.example'])).status, 64);
    const closed = await startFakeTor();
    const port = closed.port;
    await closed.close();
    const r = await runCli(['probe', '--config', config, '--socks', `127.0.0.1:${port}`, 'up.example']);
    assert.equal(r.status, 75);
    assert.match(r.stdout, /cannot reach the Tor SocksPort/);
  });
});
