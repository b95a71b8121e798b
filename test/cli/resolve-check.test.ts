import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';
import { runCli } from './cli-helpers.ts';

const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const B = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';

describe('resolve and check commands', () => {
  let dns: DnsTestServer;
  let dir: string;
  const config = (extra = ''): string => {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(path, `dns:\n  servers: ["127.0.0.1:${dns.port}"]\n  timeout: 500ms\n  deadline: 1s\nmaps: [${join(dir, 'pins.yml')}]\n${extra}`);
    return path;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-cli-'));
    writeFileSync(join(dir, 'pins.yml'), `# operator pins\npinned.example: ${A}\nother.example: {onion: ${B}, port: 2525}\n`);
    dns = await startDnsServer({
      zones: [
        {
          origin: 'example',
          soa: { ttl: 300, minimum: 60 },
          records: [
            { name: '_onion-mx._tcp.signed.example', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: B } },
            { name: '_onion-mx._tcp.unsigned.example', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: B } },
            { name: '_onion-mx._tcp.broken.example', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: B } },
            { name: '_onion-mx._tcp.riseup.net', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: B } },
          ],
        },
        { origin: 'net', soa: { ttl: 300, minimum: 60 }, records: [{ name: '_onion-mx._tcp.riseup.net', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: B } }] },
        { origin: 'org', soa: { ttl: 300, minimum: 60 }, records: [] },
      ],
      behaviour: (q) => {
        const name = q.name.toLowerCase();
        if (name.includes('broken')) return { kind: 'servfail' };
        return { kind: 'zone', ad: !name.includes('unsigned') };
      },
    });
  });
  after(async () => {
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('resolve prints one JSON decision per input and exits 0 when all were decided', async () => {
    const r = await runCli(['resolve', '--json', '--config', config(), 'pinned.example', 'user@Signed.Example', 'unsigned.example', 'nobody.example', `x@${A}`, 'x@abcdefghijklmnop.onion']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => [l['input'], l['kind'], l['source'] ?? l['reason']]),
      [
        ['pinned.example', 'route', 'static'],
        ['user@Signed.Example', 'route', 'srv'],
        ['unsigned.example', 'none', 'unauthenticated'],
        ['nobody.example', 'none', 'nxdomain'],
        [`x@${A}`, 'route', 'onion-domain'],
        ['x@abcdefghijklmnop.onion', 'reject', 'v2 onion services no longer work in Tor'],
      ],
    );
    assert.equal(lines[1]?.['onion'], B);
    assert.equal(lines[1]?.['dnssec'], true);
    assert.ok(!dns.queries.some((q) => q.name.toLowerCase().includes('.onion')), 'no .onion name reached DNS');
  });

  test('resolve exits 75 when a lookup failed temporarily, and says so in words', async () => {
    const r = await runCli(['resolve', '--config', config(), 'pinned.example', 'broken.example']);
    assert.equal(r.status, 75);
    assert.match(r.stdout, /broken\.example: TEMPFAIL \(servfail/);
    assert.match(r.stdout, /pinned\.example: route .* via static from .*pins\.yml:2/);
  });

  test('usage and configuration errors', async () => {
    assert.equal((await runCli(['resolve'])).status, 64);
    assert.equal((await runCli(['resolve', '--bogus', 'x'])).status, 64);
    assert.equal((await runCli(['frobnicate'])).status, 64);
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'dns:\n  dnssec: perhaps\n');
    const r = await runCli(['resolve', '--config', bad, 'a.example']);
    assert.equal(r.status, 78);
    assert.match(r.stderr, /bad\.yml:2: dns\.dnssec: must be one of: required, optional/);
    const missing = await runCli(['resolve', '--config', join(dir, 'nope.yml'), 'a.example']);
    assert.equal(missing.status, 78);
    assert.match(missing.stderr, /cannot read .*nope\.yml/);
  });

  test('check passes a good setup and warns where the bundled map disagrees with SRV', async () => {
    const r = await runCli(['check', '--config', config()]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /maps: 1 file\(s\), 2 domain\(s\) on 2 onion\(s\)/);
    assert.match(r.stdout, /bundled map: 1 file\(s\), 29 domain\(s\) on 9 onion\(s\), 12 skipped/);
    assert.match(r.stdout, /warning: .*onionmx-map\.yml:\d+: .*blackhost5xlrhev\.onion/);
    assert.match(r.stdout, /warning: .*onionmx-map\.yml:\d+: riseup\.net is mapped to aj3n.* in the bundled map, but its SRV record \(DNSSEC\) names llqi/);
    assert.match(r.stdout, /check: OK/);
  });

  test('check fails on conflicting pins and names both places', async () => {
    const pins2 = join(dir, 'pins2.yml');
    const pins3 = join(dir, 'pins3.yml');
    writeFileSync(pins2, `x.example: ${A}\ny.example: ${A}\n`);
    writeFileSync(pins3, `# later pins\n\nx.example: ${B}\n`);
    const path = join(dir, 'conflict.yml');
    writeFileSync(path, `maps: [${pins2}, ${pins3}]\nbundled_map: false\ndns:\n  servers: ["127.0.0.1:${dns.port}"]\n`);
    const r = await runCli(['check', '--offline', '--config', path]);
    assert.equal(r.status, 78, r.stdout);
    assert.match(r.stdout, /error: .*x\.example/);
    assert.match(r.stdout, /pins2\.yml:1/);
    assert.match(r.stdout, /pins3\.yml:3/);
    // The rest of the maps still load and route; the conflicting domain tempfails.
    const res = await runCli(['resolve', '--config', path, 'y.example', 'x.example']);
    assert.equal(res.status, 75);
    assert.match(res.stdout, /y\.example: route /);
    assert.match(res.stdout, /x\.example: TEMPFAIL \(conflicting-pins/);
  });
});
