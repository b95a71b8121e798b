// Drives our server with OpenDKIM's miltertest (a libmilter-compatible MTA emulator) via Lua scripts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMilterServer, type FilterSpec, type MilterServer } from '../../src/milter/index.ts';
import { findProgram, needPrograms } from '../helpers/system.ts';
import { exampleConfig, startDaemon, type DaemonProcess } from '../helpers/e2e-daemon.ts';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';

// Lua scripts are not compiled: resolve them in the source tree from dist/test/milter/.
const LUA_DIR = fileURLToPath(new URL('../../../test/milter/lua/', import.meta.url));

const filter: FilterSpec = {
  actions: ['addHeader', 'changeHeader'],
  open: () => {
    let forged = 0;
    return {
      connect: () => undefined,
      helo: () => undefined,
      mailFrom: () => undefined,
      rcptTo: (_ctx, rcpt) => {
        if (rcpt.address.startsWith('throw@')) throw new Error('lookup exploded');
        return rcpt.address.startsWith('reject@') ? { kind: 'reject' } : undefined;
      },
      header: (_ctx, name) => {
        if (name.toLowerCase() === 'x-forged') forged++;
        return undefined;
      },
      endOfHeaders: () => undefined,
      body: () => undefined,
      endOfMessage: (ctx) => {
        for (let i = forged; i >= 1; i--) ctx.deleteHeader('X-Forged', i);
        ctx.addHeader('X-Onion-Route', `smtptor:[x.onion]:25 ${ctx.macros.get('i') ?? ''}`);
        return undefined;
      },
    };
  },
};

function miltertest(script: string, port: number, defines: Readonly<Record<string, string>> = {}): Promise<{ code: number; output: string }> {
  const args = [['port', String(port)], ...Object.entries(defines)].flatMap(([k, v]) => ['-D', `${k}=${v}`]);
  return new Promise((resolve) => {
    execFile(findProgram('miltertest') ?? 'miltertest', [...args, '-s', `${LUA_DIR}${script}`], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe('miltertest scripts against the server', { skip: needPrograms('miltertest') }, () => {
  let server: MilterServer;
  let port = 0;
  before(async () => {
    server = createMilterServer({ filter });
    port = (await server.listen('inet:127.0.0.1:0')).port ?? 0;
  });
  after(async () => server.close(1000));

  for (const script of ['transaction.lua', 'reject.lua', 'tempfail.lua']) {
    it(script, async () => {
      const { code, output } = await miltertest(script, port);
      assert.equal(code, 0, output);
    });
  }

  it('a failing script is reported as a failure (the harness can fail)', async () => {
    const { code } = await miltertest('transaction.lua', 1);
    assert.notEqual(code, 0);
  });
});

const ONION_PINNED = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const ONION_SRV = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';

// The daemon as shipped (examples/config.yml, mixed_routes: defer) with its routing filter, a pin
// for pinned.example, and DNS on loopback: an authenticated SRV record for srv.example, NXDOMAIN
// for clearnet.example, SERVFAIL for broken.example.
describe('miltertest scripts against the daemon (serve, routing filter)', { skip: needPrograms('miltertest') }, () => {
  let dir: string;
  let dns: DnsTestServer;
  let daemon: DaemonProcess;
  let port = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-miltertest-'));
    const pins = join(dir, 'pins.yml');
    writeFileSync(pins, `pinned.example: ${ONION_PINNED}\n`);
    dns = await startDnsServer({
      zones: [
        { origin: 'srv.example', soa: { ttl: 60, minimum: 60 }, records: [{ name: '_onion-mx._tcp.srv.example', type: 'SRV', ttl: 300, data: { priority: 0, weight: 1, port: 25, target: ONION_SRV } }] },
        { origin: 'example', soa: { ttl: 60, minimum: 60 }, records: [] },
      ],
      behaviour: (q) => (q.name.toLowerCase().includes('broken.example') ? { kind: 'servfail' } : { kind: 'zone', ad: true }),
    });
    const config = join(dir, 'config.yml');
    writeFileSync(config, exampleConfig({
      'milter.listen': 'inet:127.0.0.1:0',
      'milter.submission_listen': null,
      maps: [pins],
      // Routes spelled per onion (smtptor:[<onion>]:25), as the expectations below are written.
      'header.transport': 'smtptor',
      'relay.postfix_nexthop': null,
      bundled_map: false,
      'dns.servers': [`127.0.0.1:${dns.port}`],
      'dns.timeout': '500ms',
      'dns.deadline': '1s',
    }));
    daemon = await startDaemon(config);
    const started = daemon.lines.find((l) => l.msg === 'onionmx-milter started');
    port = Number(/:(\d+)$/.exec(String(started?.['milter']))?.[1]);
    assert.ok(port > 0, JSON.stringify(started));
  });
  after(async () => {
    await daemon.kill();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const script of ['daemon-transaction.lua', 'daemon-messages.lua', 'daemon-failures.lua']) {
    it(script, async () => {
      const { code, output } = await miltertest(script, port, { lua_dir: LUA_DIR, onion_pinned: ONION_PINNED, onion_srv: ONION_SRV });
      assert.equal(code, 0, output);
    });
  }

  it('the daemon logged no error while miltertest drove it', () => {
    const errors = daemon.lines.filter((l) => typeof l['level'] === 'number' && l['level'] >= 50);
    assert.deepEqual(errors, []);
  });
});
