// The Tor stand-in itself: negotiation, every reply kind, routing, and torsocks (Debian) in front of it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SocksClient } from 'socks';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { needPrograms } from '../helpers/system.ts';

const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const OTHER = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';

/** A raw SOCKS5 exchange: returns every byte the server sent until it closed or `until` matched. */
async function rawExchange(port: number, send: readonly Buffer[], until?: (got: Buffer) => boolean): Promise<{ got: Buffer; socket: Socket }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let got = Buffer.alloc(0);
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (until?.(got) === true) resolve();
    });
    socket.on('close', () => {
      resolve();
    });
    socket.on('error', () => {
      resolve();
    });
  });
  for (const b of send) socket.write(b);
  await done;
  return { got, socket };
}

function connectRequest(host: string, port: number): Buffer {
  const name = Buffer.from(host, 'latin1');
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x03, name.length]), name, p]);
}

const NO_AUTH = Buffer.from([0x05, 0x01, 0x00]);

describe('fake tor', () => {
  let sink: Sink;
  let tor: FakeTor;
  before(async () => {
    sink = await startSink();
    tor = await startFakeTor({ routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: sink.port } }, resolve: { 'mx.example': '192.0.2.7' } });
  });
  after(async () => {
    await tor.close();
    await sink.close();
  });

  it('pipes a hostname CONNECT to the routed sink (socks package, username/password recorded)', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: tor.port, type: 5, userId: 'onionmx:a', password: 'x' },
      command: 'connect',
      destination: { host: ONION, port: 25 },
    });
    const [banner] = (await once(socket, 'data')) as [Buffer];
    assert.match(banner.toString(), /^220 sink\.test/);
    socket.destroy();
    const last = tor.requests.at(-1)!;
    assert.equal(last.atyp, 3);
    assert.equal(last.method, 0x02);
    assert.equal(last.username, 'onionmx:a');
    assert.equal(last.password, 'x');
    assert.equal(last.rep, 0x00);
    assert.ok(tor.connects(`${ONION}:25`) >= 1);
  });

  it('selects NO AUTH when only that is offered, and answers in Tor\'s reply shape', async () => {
    const { got } = await rawExchange(tor.port, [NO_AUTH, connectRequest(OTHER, 25)]);
    assert.deepEqual([...got], [0x05, 0x00, 0x05, 0xf0, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    assert.equal(tor.requests.at(-1)!.username, undefined);
  });

  it('refuses a client that offers no acceptable method, and require-password refuses NO AUTH', async () => {
    const { got } = await rawExchange(tor.port, [Buffer.from([0x05, 0x01, 0x01])]);
    assert.deepEqual([...got], [0x05, 0xff]);
    const strict = await startFakeTor({ auth: 'require-password' });
    try {
      const { got: refused } = await rawExchange(strict.port, [NO_AUTH]);
      assert.deepEqual([...refused], [0x05, 0xff]);
    } finally {
      await strict.close();
    }
  });

  for (const rep of [0x01, 0x04, 0x05, 0x06, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7]) {
    it(`sends the programmed REP 0x${rep.toString(16).padStart(2, '0')} for one destination only`, async () => {
      const onion = `${'a'.repeat(55 - rep.toString(16).length)}${rep.toString(16)}x.onion`;
      tor.setReply(onion, { kind: 'fail', rep });
      const { got } = await rawExchange(tor.port, [NO_AUTH, connectRequest(onion, 25)]);
      assert.deepEqual([...got.subarray(2)], [0x05, rep, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
      const routed = await rawExchange(tor.port, [NO_AUTH, connectRequest(ONION, 25)], (b) => b.includes('220 '));
      routed.socket.destroy();
      assert.equal(routed.got[3], 0x00);
    });
  }

  it('a hanging destination never replies while others are answered', async () => {
    tor.setReply(`${OTHER}:26`, { kind: 'hang' });
    const hanging = connect(tor.port, '127.0.0.1');
    hanging.write(NO_AUTH);
    const [selected] = (await once(hanging, 'data')) as [Buffer];
    assert.deepEqual([...selected], [0x05, 0x00]);
    let hangingGot = Buffer.alloc(0);
    hanging.on('data', (c: Buffer) => (hangingGot = Buffer.concat([hangingGot, c])));
    hanging.write(connectRequest(OTHER, 26));
    const before = tor.requests.length;
    await tor.waitForRequests(before + 1);
    const { got } = await rawExchange(tor.port, [NO_AUTH, connectRequest(OTHER, 27)]);
    assert.equal(got[3], 0xf0);
    assert.equal(hangingGot.length, 0);
    assert.equal(tor.requests[before]!.rep, undefined);
    hanging.destroy();
  });

  it('a slow destination answers later with the programmed reply', async () => {
    tor.setReply(`${OTHER}:28`, { kind: 'slow', delayMs: 50, then: { kind: 'fail', rep: 0xf2 } });
    const { got } = await rawExchange(tor.port, [NO_AUTH, connectRequest(OTHER, 28)]);
    assert.equal(got[3], 0xf2);
  });

  it('CONNECT by IPv4 and IPv6 address, and an unknown ATYP gets 0x08', async () => {
    const v4 = Buffer.from([0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0, 25]);
    const { got } = await rawExchange(tor.port, [NO_AUTH, v4]);
    assert.equal(got[3], 0x04);
    assert.equal(tor.requests.at(-1)!.destination, '192.0.2.1:25');
    const v6 = Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x04]), Buffer.alloc(15), Buffer.from([1, 0, 25])]);
    await rawExchange(tor.port, [NO_AUTH, v6]);
    assert.equal(tor.requests.at(-1)!.destination, '0:0:0:0:0:0:0:1:25');
    const bad = await rawExchange(tor.port, [NO_AUTH, Buffer.from([0x05, 0x01, 0x00, 0x09, 0, 0])]);
    assert.equal(bad.got[3], 0x08);
  });

  it('RESOLVE (0xF0) answers known names, refuses onions, and other commands get 0x07', async () => {
    const resolve = (host: string): Buffer => {
      const r = connectRequest(host, 0);
      r[1] = 0xf0;
      return r;
    };
    const { got } = await rawExchange(tor.port, [NO_AUTH, resolve('mx.example')]);
    assert.deepEqual([...got.subarray(2)], [0x05, 0x00, 0x00, 0x01, 192, 0, 2, 7, 0, 0]);
    assert.equal((await rawExchange(tor.port, [NO_AUTH, resolve(ONION)])).got[3], 0x01);
    assert.equal((await rawExchange(tor.port, [NO_AUTH, resolve('nowhere.example')])).got[3], 0x04);
    const bind = connectRequest(ONION, 25);
    bind[1] = 0x02;
    assert.equal((await rawExchange(tor.port, [NO_AUTH, bind])).got[3], 0x07);
  });

  it('an upstream that refuses gives 0x05', async () => {
    const closed = await startSink();
    const port = closed.port;
    await closed.close();
    tor.route(`${OTHER}:29`, { host: '127.0.0.1', port });
    const { got } = await rawExchange(tor.port, [NO_AUTH, connectRequest(OTHER, 29)]);
    assert.equal(got[3], 0x05);
  });
});

describe('fake tor with a rendezvous delay per CONNECT', () => {
  let sink: Sink;
  let tor: FakeTor;
  before(async () => {
    sink = await startSink();
    tor = await startFakeTor({ routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: sink.port } }, connectDelayMs: 60_000 });
  });
  after(async () => {
    await tor.close();
    await sink.close();
  });

  it('holds a CONNECT unanswered (the client stays connected) until the delay is over; close() ends the wait', async () => {
    assert.equal(tor.clientsOpen, 0);
    const client = connect(tor.port, '127.0.0.1');
    client.write(NO_AUTH);
    const [selected] = (await once(client, 'data')) as [Buffer];
    assert.deepEqual([...selected], [0x05, 0x00]);
    let got = Buffer.alloc(0);
    client.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
    // A failing reply is sent at once when nothing holds it (before waitForRequests resolves).
    tor.setReply(`${OTHER}:25`, { kind: 'fail', rep: 0xf2 });
    client.write(connectRequest(OTHER, 25));
    await tor.waitForRequests(1);
    assert.equal(tor.clientsOpen, 1);
    assert.equal(tor.requests[0]?.rep, undefined, 'not answered yet');
    assert.equal(got.length, 0, 'no reply on the wire');
    const closed = once(client, 'close');
    await tor.close();
    await closed;
    assert.equal(tor.clientsOpen, 0);
  });
});

describe('torsocks in front of the fake tor', { skip: needPrograms('torsocks', 'swaks') }, () => {
  let sink: Sink;
  let tor: FakeTor;
  let dir: string;
  let conf: string;
  before(async () => {
    sink = await startSink();
    tor = await startFakeTor({ routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: sink.port } } });
    dir = mkdtempSync(join(tmpdir(), 'onionmx-torsocks-'));
    conf = join(dir, 'torsocks.conf');
    writeFileSync(conf, `TorAddress 127.0.0.1\nTorPort ${tor.port}\nOnionAddrRange 127.42.42.0/24\n`);
  });
  after(async () => {
    await tor.close();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const swaks = (torsocksArgs: readonly string[], to: string): Promise<{ code: number | null; output: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(
        'torsocks',
        [...torsocksArgs, 'swaks', '--server', ONION, '--port', '25', '--helo', 'client.test', '--from', 'a@client.test', '--to', to, '--timeout', '20'],
        { env: { ...process.env, TORSOCKS_CONF_FILE: conf }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        resolve({ code, output });
      });
    });

  it('swaks under torsocks delivers to the onion: hostname CONNECT reaches the mapped sink', async () => {
    const result = await swaks([], 'plain@onion.example');
    assert.equal(result.code, 0, result.output);
    const message = await sink.waitForMessage((m) => m.to.includes('plain@onion.example'));
    assert.equal(message.helo, 'client.test');
    const connect = tor.requests.find((r) => r.command === 'connect');
    assert.ok(connect !== undefined);
    assert.equal(connect.atyp, 3, 'torsocks sends the onion name, not its cookie address');
    assert.equal(connect.destination, `${ONION}:25`);
  });

  it('torsocks -i (isolation) authenticates with a username the fake records', async () => {
    const before = tor.requests.length;
    const result = await swaks(['-i'], 'isolated@onion.example');
    assert.equal(result.code, 0, result.output);
    await sink.waitForMessage((m) => m.to.includes('isolated@onion.example'));
    const connect = tor.requests.slice(before).find((r) => r.command === 'connect');
    assert.ok(connect !== undefined);
    assert.equal(connect.method, 0x02);
    assert.ok(connect.username !== undefined && connect.username.length > 0);
  });
});
