import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { mkdtemp, rm, stat, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, ErrorCode } from '../../src/errors.ts';
import { createMilterServer, MilterClient, Action, Proto, type FilterSpec, type MilterServer } from '../../src/milter/index.ts';
import { recordingLogger, waitFor } from '../helpers/milter-fixtures.ts';

const routing: FilterSpec = {
  actions: ['addHeader', 'changeHeader'],
  noReply: ['header'],
  open: () => ({
    rcptTo: (_ctx, rcpt) => (rcpt.address.endsWith('@bad.example') ? { kind: 'reject' } : undefined),
    header: () => undefined,
    endOfMessage: (ctx) => {
      ctx.deleteHeader('X-Onion-Route', 1);
      ctx.addHeader('X-Onion-Route', `smtptor:[abc.onion]:25 ${ctx.macros.get('i') ?? ''}`);
      return undefined;
    },
  }),
};

async function transaction(c: MilterClient, rcpt = '<x@good.example>'): Promise<void> {
  assert.deepEqual(await c.mailFrom('<a@example.org>'), { kind: 'notSent' });
  assert.deepEqual(await c.rcptTo(rcpt), { kind: 'continue' });
  assert.deepEqual(await c.header('Subject', 'hi'), { kind: 'noReply' });
  c.macro('E', { i: 'QID1' });
  const eom = await c.endOfMessage();
  assert.deepEqual(eom.reply, { kind: 'continue' });
  assert.deepEqual(eom.modifications, [
    { kind: 'changeHeader', index: 1, name: 'X-Onion-Route', value: '' },
    { kind: 'addHeader', name: 'X-Onion-Route', value: 'smtptor:[abc.onion]:25 QID1' },
  ]);
  c.abort();
}

describe('milter server over TCP loopback', () => {
  const servers: MilterServer[] = [];
  after(async () => { await Promise.all(servers.map((s) => s.close(100))); });
  const serve = (o: Partial<Parameters<typeof createMilterServer>[0]> = {}) => {
    const s = createMilterServer({ filter: routing, ...o });
    servers.push(s);
    return s;
  };

  it('serves full transactions, several per connection, with our client (IPv4, IPv6, Sendmail spec)', async () => {
    const s = serve();
    for (const spec of ['inet:127.0.0.1:0', 'inet:[::1]:0', 'inet:0@127.0.0.1']) {
      const addr = await s.listen(spec);
      assert.match(addr.spec, /^inet:(127\.0\.0\.1|\[::1\]):\d+$/);
      assert.ok(addr.port !== undefined && addr.port > 0);
      const c = await MilterClient.connect(addr.spec);
      const neg = await c.negotiate();
      assert.equal(neg.version, 6);
      assert.equal(neg.actions, Action.addHeaders | Action.changeHeaders);
      assert.ok(neg.protocol & Proto.noReplyHeader);
      assert.deepEqual(await c.connect('mail.example', 'inet', 4242, '192.0.2.1'), { kind: 'notSent' });
      await transaction(c);
      await transaction(c);
      assert.deepEqual(await c.rcptTo('<y@bad.example>'), { kind: 'reject' });
      await c.quit();
    }
  });

  it('closes a connection that breaks the protocol, logs the code, and keeps serving', async () => {
    const { log, lines } = await recordingLogger();
    const s = serve({ logger: log });
    const { spec } = await s.listen('inet:127.0.0.1:0');
    const bad = await MilterClient.connect(spec);
    bad.writeRaw(Buffer.from([0, 0, 0, 0, 0x41]));
    await bad.closed;
    assert.ok(lines.some((l) => l['code'] === ErrorCode.MilterFrameLength));
    const good = await MilterClient.connect(spec);
    await good.negotiate();
    await transaction(good);
    await good.quit();
  });

  it('refuses connections over the limit at once, with a log line', async () => {
    const { log, lines } = await recordingLogger();
    const s = serve({ maxConnections: 1, logger: log });
    const { spec } = await s.listen('inet:127.0.0.1:0');
    const first = await MilterClient.connect(spec);
    await first.negotiate();
    const second = await MilterClient.connect(spec);
    await second.closed;
    assert.ok(lines.some((l) => l['msg'] === 'milter connection refused: limit reached or shutting down'));
    assert.equal(s.connectionCount, 1);
    await transaction(first);
    await first.quit();
    await waitFor(() => s.connectionCount === 0, 'connection to be released');
  });

  it('closes idle connections after the configured idle timeout', async () => {
    const { log, lines } = await recordingLogger();
    const s = serve({ idleTimeoutMs: 30, logger: log });
    const { spec } = await s.listen('inet:127.0.0.1:0');
    const c = await MilterClient.connect(spec);
    await c.negotiate();
    await c.closed;
    assert.ok(lines.some((l) => l['code'] === ErrorCode.MilterIdleTimeout));
  });

  it('graceful close: stops accepting, waits for QUIT, closes idle connections at once', async () => {
    const s = createMilterServer({ filter: routing });
    const { spec } = await s.listen('inet:127.0.0.1:0');
    const busy = await MilterClient.connect(spec);
    await busy.negotiate();
    await busy.mailFrom('<a@b>');
    const idle = await MilterClient.connect(spec);
    await waitFor(() => s.connectionCount === 2, 'both connections');
    let closed = false;
    const closing = s.close(60_000).then(() => { closed = true; });
    await idle.closed;
    await assert.rejects(MilterClient.connect(spec));
    assert.deepEqual(await busy.rcptTo('<x@good.example>'), { kind: 'continue' }, 'the open session is still served');
    assert.equal(closed, false);
    await busy.endOfMessage();
    await busy.quit();
    await closing;
    assert.equal(closed, true);
  });

  it('graceful close also ends a session at QUIT_NC, and destroys stragglers after the grace period', async () => {
    const s = createMilterServer({ filter: routing });
    const { spec } = await s.listen('inet:127.0.0.1:0');
    const nc = await MilterClient.connect(spec);
    await nc.negotiate();
    const straggler = await MilterClient.connect(spec);
    await straggler.negotiate();
    await straggler.mailFrom('<a@b>');
    await waitFor(() => s.connectionCount === 2, 'both connections');
    const closing = s.close(50);
    nc.quitNewConnection();
    await nc.closed;
    await straggler.closed;
    await closing;
    assert.equal(s.connectionCount, 0);
  });
});

describe('milter server over unix sockets', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'onionmx-milter-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('listens with mode and group, serves, and removes the socket on close', async () => {
    const path = join(dir, 'm.sock');
    const s = createMilterServer({ filter: routing, socketMode: 0o660, socketGroup: process.getgid?.() ?? 0 });
    const addr = await s.listen(`unix:${path}`);
    assert.deepEqual(addr, { spec: `unix:${path}`, path });
    const st = await stat(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, process.getgid?.() ?? 0);
    const c = await MilterClient.connect(`local:${path}`);
    await c.negotiate();
    await transaction(c);
    await c.quit();
    await s.close(100);
    await assert.rejects(lstat(path), /ENOENT/);
  });

  it('resolves a group name', async () => {
    const path = join(dir, 'g.sock');
    const s = createMilterServer({ filter: routing, socketGroup: 'root' });
    await s.listen(`unix:${path}`);
    assert.equal((await stat(path)).gid, 0);
    await s.close(100);
    const bad = createMilterServer({ filter: routing, socketGroup: 'no-such-group-onionmx' });
    await assert.rejects(bad.listen(`unix:${join(dir, 'b.sock')}`), (e: unknown) => e instanceof ConfigError);
    await bad.close(10);
  });

  it('replaces a stale socket nobody answers on', async () => {
    const path = join(dir, 'stale.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => { resolve(); }));
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    assert.ok((await lstat(path)).isSocket(), 'the killed listener left its socket behind');
    const s = createMilterServer({ filter: routing });
    await s.listen(`unix:${path}`);
    const c = await MilterClient.connect(`unix:${path}`);
    await c.negotiate();
    await c.quit();
    await s.close(100);
  });

  it('refuses a socket a live server answers on, and a regular file', async () => {
    const path = join(dir, 'live.sock');
    const live = createMilterServer({ filter: routing });
    await live.listen(`unix:${path}`);
    const second = createMilterServer({ filter: routing });
    await assert.rejects(second.listen(`unix:${path}`), /another server is listening/);
    const still = await new Promise<boolean>((resolve) => {
      const s = netConnect(path).once('connect', () => { s.destroy(); resolve(true); }).once('error', () => { resolve(false); });
    });
    assert.ok(still, 'the live server was left alone');
    await live.close(100);
    const file = join(dir, 'file.sock');
    await writeFile(file, 'not a socket');
    await assert.rejects(second.listen(`unix:${file}`), /not a socket/);
    await second.close(10);
  });
});
