// `onionmx-milter serve` as an operator runs it: a child process with a config file, driven over
// its milter socket by our MTA client; SIGHUP reloads (a broken config keeps the old one), SIGTERM
// drains and exits 0.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';
import { CLI } from '../cli/cli-helpers.ts';
import { routeHeaderFor } from '../helpers/milter-transaction.ts';

const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const B = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';

/** Collects the daemon's JSON log lines and lets a test wait for one. */
class LogWatch {
  readonly lines: Record<string, unknown>[] = [];
  #waiters: { match: (l: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  #buf = '';
  feed(chunk: string): void {
    this.#buf += chunk;
    let nl;
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      try {
        const obj = JSON.parse(line) as Record<string, unknown>;
        this.lines.push(obj);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.match(obj)) return true;
          w.resolve();
          return false;
        });
      } catch {
        /* not JSON: ignore */
      }
    }
  }
  waitFor(msg: RegExp, timeoutMs = 10_000): Promise<void> {
    const match = (l: Record<string, unknown>): boolean => msg.test(String(l['msg']));
    if (this.lines.some(match)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new Error(`no log line matching ${msg} within ${timeoutMs} ms; got:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      this.#waiters.push({
        match,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }
  count(msg: RegExp): number {
    return this.lines.filter((l) => msg.test(String(l['msg']))).length;
  }
}

describe('serve', () => {
  let dir: string;
  let dns: DnsTestServer;
  let child: ChildProcess;
  const log = new LogWatch();
  let configPath: string;
  let socket: string;
  const writeConfig = (pins: string, extra = ''): void => {
    writeFileSync(join(dir, 'pins.yml'), pins);
    writeFileSync(
      configPath,
      `milter:\n  listen: unix:${socket}\n  socket_mode: "0660"\nmaps: [${join(dir, 'pins.yml')}]\nbundled_map: false\ndns:\n  servers: ["127.0.0.1:${dns.port}"]\n  timeout: 500ms\n  deadline: 1s\nlog:\n  level: info\n${extra}`,
    );
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-serve-'));
    configPath = join(dir, 'config.yml');
    socket = join(dir, 'milter.sock');
    dns = await startDnsServer({
      zones: [{ origin: 'example', soa: { ttl: 60, minimum: 60 }, records: [{ name: '_onion-mx._tcp.srv.example', type: 'SRV', ttl: 300, data: { priority: 0, weight: 1, port: 25, target: B } }] }],
      behaviour: () => ({ kind: 'zone', ad: true }),
    });
    writeConfig(`pinned.example: ${A}\n`);
    child = spawn(process.execPath, [CLI, 'serve', '--config', configPath, '--grace', '2', '--allow-root'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      log.feed(d);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      log.feed(d);
    });
    await log.waitFor(/onionmx-milter started/);
  });
  after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('listens on a unix socket with the configured mode and routes pinned and SRV domains', async () => {
    assert.equal(statSync(socket).mode & 0o777, 0o660);
    assert.equal(await routeHeaderFor(`unix:${socket}`, 'u@pinned.example'), `onionrelay:[${A}]:25`);
    assert.equal(await routeHeaderFor(`unix:${socket}`, 'u@srv.example'), `onionrelay:[${B}]:25`);
    assert.equal(await routeHeaderFor(`unix:${socket}`, 'u@new.example'), undefined);
    await log.waitFor(/message routed/);
  });

  test('SIGHUP with a broken config keeps routing with the old one', async () => {
    writeFileSync(configPath, 'milter:\n  listen: [this is not valid\n');
    child.kill('SIGHUP');
    await log.waitFor(/reload rejected/);
    assert.equal(await routeHeaderFor(`unix:${socket}`, 'u@pinned.example'), `onionrelay:[${A}]:25`);
  });

  test('SIGHUP with a new map entry routes the new domain', async () => {
    writeConfig(`pinned.example: ${A}\nnew.example: ${B}\n`);
    child.kill('SIGHUP');
    await log.waitFor(/configuration reloaded/);
    assert.equal(await routeHeaderFor(`unix:${socket}`, 'u@new.example'), `onionrelay:[${B}]:25`);
  });

  test('SIGTERM drains and exits 0, removing the socket', async () => {
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.throws(() => statSync(socket), /ENOENT/);
  });
});

test('serve refuses a config with errors, naming file, line and key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-serve-bad-'));
  try {
    const path = join(dir, 'c.yml');
    writeFileSync(path, 'milter:\n  listen: nowhere\n');
    const c = spawn(process.execPath, [CLI, 'serve', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const [code] = (await once(c, 'exit')) as [number | null];
    assert.equal(code, 78);
    assert.match(err, /c\.yml:2: milter\.listen: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
