// srv-record, verify and map check --verify-srv as an operator runs them, against the in-process
// DNS fixture (AD set for "signed" names, unset for "unsigned" ones), a fake Tor SocksPort routing
// the published onion to an SMTP sink, and a closed port where no Tor runs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDnsServer, type DnsTestServer, type FixtureRecord } from '../helpers/dns-server.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { runCli } from './cli-helpers.ts';

const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const B = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';
/** An onion whose descriptor Tor cannot find (fake Tor answers F0 for unrouted onions). */
const C = 'abupq2yypwtojgupttylrbwnabmpmydsf4evb2onasmib2go23jyyhqd.onion';
const V2 = 'abcdefghijklmnop.onion';
const FIXTURE_MAP = fileURLToPath(new URL('../../../test/fixtures/maps/onionmx-map.yml', import.meta.url));

const srv = (domain: string, target: string, port = 25): FixtureRecord => ({ name: `_onion-mx._tcp.${domain}`, type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port, target } });

/** Parses a zone line printed by srv-record into a fixture record. */
function fromZoneLine(line: string): FixtureRecord {
  const [owner = '', ttl = '', , type = '', priority = '', weight = '', port = '', target = ''] = line.trim().split(/\s+/);
  assert.equal(type, 'SRV');
  return { name: owner.replace(/\.$/, ''), type: 'SRV', ttl: Number(ttl), data: { priority: Number(priority), weight: Number(weight), port: Number(port), target: target.replace(/\.$/, '') } };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface Report {
  ok: boolean;
  authenticated?: boolean;
  checks: { name: string; status: string; detail: string }[];
}

describe('srv-record, verify and map check --verify-srv', () => {
  let dns: DnsTestServer;
  let tor: FakeTor;
  let sink: Sink;
  let dir: string;
  let noTorPort: number;

  const config = (options: { tor?: boolean; pins?: string } = {}): string => {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yml`);
    const pins = options.pins === undefined ? '' : `maps: [${join(dir, options.pins)}]\n`;
    writeFileSync(path, `dns:\n  servers: ["127.0.0.1:${dns.port}"]\n  timeout: 500ms\n  deadline: 1s\ntor:\n  socks: 127.0.0.1:${options.tor === false ? noTorPort : tor.port}\n  connect_timeout: 5s\n${pins}`);
    return path;
  };
  const verify = async (...args: string[]): Promise<{ status: number | null; report: Report; stderr: string }> => {
    const r = await runCli(['verify', '--json', '--probe-timeout', '5s', ...args]);
    return { status: r.status, report: (r.stdout === '' ? { ok: false, checks: [] } : JSON.parse(r.stdout)) as Report, stderr: r.stderr };
  };
  const check = (report: Report, name: string): { status: string; detail: string }[] => report.checks.filter((c) => c.name === name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-join-'));
    noTorPort = await closedPort();
    const published = await runCli(['srv-record', 'good.example', A]);
    assert.equal(published.status, 0, published.stderr);
    dns = await startDnsServer({
      zones: [
        {
          origin: 'example',
          soa: { ttl: 300, minimum: 60 },
          records: [
            fromZoneLine(published.stdout),
            srv('unsigned.example', A),
            srv('wrong.example', B),
            srv('v2.example', V2),
            srv('mixed.example', A),
            srv('mixed.example', V2),
            { ...srv('dot.example', '.'), data: { priority: 0, weight: 0, port: 0, target: '.' } },
            srv('dark.example', C),
            srv('broken.example', A),
          ],
        },
      ],
      behaviour: (q) => {
        const name = q.name.toLowerCase();
        if (name.includes('broken')) return { kind: 'servfail' };
        return { kind: 'zone', ad: !name.includes('unsigned') };
      },
    });
    sink = await startSink();
    tor = await startFakeTor({ routes: { [`${A}:25`]: { host: '127.0.0.1', port: sink.port }, [`${B}:25`]: { host: '127.0.0.1', port: sink.port } } });
  });
  after(async () => {
    await dns.close();
    await tor.close();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the record srv-record prints, once published in a signed zone, verifies: exit 0, greeting through Tor', async () => {
    const { status, report } = await verify('good.example', '--onion', A, '--config', config());
    assert.equal(status, 0, JSON.stringify(report, null, 2));
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c) => [c.name, c.status]), [
      ['srv', 'ok'],
      ['dnssec', 'ok'],
      ['targets', 'ok'],
      ['expected-onion', 'ok'],
      ['operator-maps', 'ok'],
      ['bundled-map', 'ok'],
      ['greeting', 'ok'],
    ]);
    assert.match(check(report, 'greeting')[0]?.detail ?? '', /answers: sink\.test/);
    assert.ok(tor.requests.some((r) => r.host === A && r.port === 25));
  });

  test('--hs-dir reads the onion service hostname file; a missing one exits 66', async () => {
    const hs = join(dir, 'hs');
    mkdirSync(hs);
    writeFileSync(join(hs, 'hostname'), `${A}\n`);
    assert.equal((await verify('good.example', '--hs-dir', hs, '--config', config())).status, 0);
    const missing = await verify('good.example', '--hs-dir', join(dir, 'nope'), '--config', config());
    assert.equal(missing.status, 66);
    assert.match(missing.stderr, /cannot read the onion service's hostname file/);
  });

  test('a record that points at the wrong onion fails (exit 1) naming both', async () => {
    const { status, report } = await verify('wrong.example', '--onion', A, '--config', config());
    assert.equal(status, 1);
    const expected = check(report, 'expected-onion')[0];
    assert.equal(expected?.status, 'fail');
    assert.match(expected?.detail ?? '', new RegExp(`${A} is not published: the record names ${B}`));
  });

  test('a v2 target fails with the reason; mixed with a valid one, the v2 target still fails the check', async () => {
    const v2 = await verify('v2.example', '--onion', A, '--config', config());
    assert.equal(v2.status, 1);
    assert.match(check(v2.report, 'targets')[0]?.detail ?? '', /target 'abcdefghijklmnop\.onion' port 25: v2 onion services no longer work/);
    const mixed = await verify('mixed.example', '--onion', A, '--config', config());
    assert.equal(mixed.status, 1);
    assert.equal(check(mixed.report, 'expected-onion')[0]?.status, 'ok');
    assert.equal(check(mixed.report, 'targets')[0]?.status, 'fail');
  });

  test('a "." target fails: the record says there is no onion service', async () => {
    const { status, report } = await verify('dot.example', '--config', config());
    assert.equal(status, 1);
    assert.match(check(report, 'srv')[0]?.detail ?? '', /is "\." : the record says this domain has no onion service/);
  });

  test('an unsigned answer fails unless --allow-unsigned, and is reported as unsigned either way', async () => {
    const strict = await verify('unsigned.example', '--onion', A, '--config', config());
    assert.equal(strict.status, 1);
    assert.equal(strict.report.authenticated, false);
    assert.equal(check(strict.report, 'dnssec')[0]?.status, 'fail');
    const lenient = await verify('unsigned.example', '--onion', A, '--allow-unsigned', '--config', config());
    assert.equal(lenient.status, 0);
    assert.equal(check(lenient.report, 'dnssec')[0]?.status, 'warn');
  });

  test('no record (NXDOMAIN) fails; a DNS failure exits 75 (try again)', async () => {
    const none = await verify('absent.example', '--config', config());
    assert.equal(none.status, 1);
    assert.match(check(none.report, 'srv')[0]?.detail ?? '', /no SRV record published \(NXDOMAIN\)/);
    const broken = await verify('broken.example', '--config', config());
    assert.equal(broken.status, 75);
  });

  test('a static pin that names another onion than the SRV record is a conflict', async () => {
    writeFileSync(join(dir, 'pins.yml'), `good.example: ${B}\n`);
    const { status, report } = await verify('good.example', '--onion', A, '--config', config({ pins: 'pins.yml' }));
    assert.equal(status, 1);
    const pin = check(report, 'operator-maps')[0];
    assert.equal(pin?.status, 'fail');
    assert.match(pin?.detail ?? '', new RegExp(`good\\.example -> ${B} \\(.*pins\\.yml:1\\) conflicts with the expected onion`));
  });

  test('an onion Tor cannot reach fails the greeting check; without a Tor SOCKS port it is reported as not checked', async () => {
    const dark = await verify('dark.example', '--onion', C, '--config', config());
    assert.equal(dark.status, 1);
    const greeting = check(dark.report, 'greeting')[0];
    assert.equal(greeting?.status, 'fail');
    assert.match(greeting?.detail ?? '', /does not answer with an SMTP greeting at connect/);
    const noTor = await verify('good.example', '--onion', A, '--config', config({ tor: false }));
    assert.equal(noTor.status, 0);
    assert.equal(check(noTor.report, 'greeting')[0]?.status, 'skipped');
    assert.match(check(noTor.report, 'greeting')[0]?.detail ?? '', /not checked: the Tor SOCKS port .* does not answer/);
    const noProbe = await verify('good.example', '--onion', A, '--no-probe', '--config', config());
    assert.match(check(noProbe.report, 'greeting')[0]?.detail ?? '', /not checked: --no-probe/);
  });

  test('bad input: an invalid --onion exits 65 with the reason, a missing domain 64, an .onion domain 65', async () => {
    const bad = await runCli(['verify', 'good.example', '--onion', V2, '--config', config()]);
    assert.equal(bad.status, 65);
    assert.match(bad.stderr, /invalid onion 'abcdefghijklmnop\.onion' \(--onion\): v2 onion services no longer work/);
    assert.equal((await runCli(['verify'])).status, 64);
    assert.equal((await runCli(['verify', A])).status, 65);
  });

  test('srv-record exit codes: 0 printed, 65 invalid onion or domain, 64 bad number', async () => {
    const ok = await runCli(['srv-record', 'Example.ORG', A, '--port', '2525', '--ttl', '600', '--priority', '10', '--weight', '1']);
    assert.equal(ok.status, 0);
    assert.equal(ok.stdout, `_onion-mx._tcp.example.org. 600 IN SRV 10 1 2525 ${A}.\n`);
    const v2 = await runCli(['srv-record', 'example.org', V2]);
    assert.equal(v2.status, 65);
    assert.match(v2.stderr, /v2 onion services no longer work/);
    assert.equal(v2.stdout, '');
    assert.equal((await runCli(['srv-record', 'example.org', '.'])).status, 65);
    assert.equal((await runCli(['srv-record', 'example.org', A, '--port', '0'])).status, 64);
    assert.equal((await runCli(['srv-record', 'example.org', A, '--ttl', '1h'])).status, 64);
  });

  test('map check --verify-srv: entries are compared with the published records', async () => {
    const map = join(dir, 'map.yml');
    writeFileSync(map, `'${A}':\n  - 'good.example'\n  - 'wrong.example'\n'${B}':\n  - 'absent.example'\n`);
    const r = await runCli(['map', 'check', map, '--verify-srv', '--config', config()]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, -1), [
      `${map}:3: wrong.example is mapped to ${A}, but its SRV record (DNSSEC-authenticated) names ${B}`,
      `${map}:5: absent.example publishes no _onion-mx._tcp record (NXDOMAIN); the map entry cannot be checked against DNS`,
    ]);
    assert.equal(lines.at(-1), 'map check: 1 file(s), 2 problem(s), 1 of 3 entries match their SRV record');
  });

  test('map check on the upstream map prints exactly its 9 known defects and exits 1; a good map exits 0', async () => {
    const r = await runCli(['map', 'check', FIXTURE_MAP]);
    assert.equal(r.status, 1);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 10);
    assert.equal(lines.filter((l) => l.includes('v2 address')).length, 7);
    assert.equal(lines.filter((l) => l.includes('has no value (null)')).length, 1);
    assert.equal(lines.filter((l) => l.includes('not in alphabetical order')).length, 1);
    assert.ok(lines.slice(0, 9).every((l) => l.startsWith(`${FIXTURE_MAP}:`)));
    const good = join(dir, 'good.yml');
    writeFileSync(good, `'${A}':\n  - 'a.example'\n`);
    const ok = await runCli(['map', 'check', good]);
    assert.equal(ok.status, 0, ok.stdout);
    assert.equal((await runCli(['map', 'check'])).status, 64);
    assert.equal((await runCli(['map', 'frobnicate'])).status, 64);
    const missing = await runCli(['map', 'check', join(dir, 'missing.yml')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stdout, /missing\.yml:1: cannot read the file/);
  });
});
