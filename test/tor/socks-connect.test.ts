// connectViaTor and probeOnion against the Tor stand-in: every reply code, isolation, deadlines.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { connectViaTor, isolationUsername } from '../../src/tor/socks-connect.ts';
import { probeOnion, describeProbe } from '../../src/tor/probe.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';

const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const OTHER = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';

/** A fake Tor that routes ONION:25 to an SMTP sink, for one suite: started before its tests, closed after. */
function fakeTorWithSink(): { readonly tor: FakeTor } {
  let sink: Sink | undefined;
  let tor: FakeTor | undefined;
  before(async () => {
    sink = await startSink();
    tor = await startFakeTor({ routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: sink.port } } });
  });
  after(async () => {
    await tor?.close();
    await sink?.close();
  });
  return {
    get tor(): FakeTor {
      assert.ok(tor !== undefined, 'the fake Tor is started before the tests');
      return tor;
    },
  };
}

describe('connectViaTor', () => {
  const lab = fakeTorWithSink();
  const proxy = (): { kind: 'tcp'; host: string; port: number } => ({ kind: 'tcp', host: '127.0.0.1', port: lab.tor.port });

  it('connects by host name with a per-destination isolation username; the banner is not lost', async () => {
    const r = await connectViaTor({ proxy: proxy(), host: ONION, port: 25 });
    assert.ok(r.ok);
    const [banner] = (await once(r.socket, 'data')) as [Buffer];
    assert.match(banner.toString(), /^220 /);
    r.socket.destroy();
    const req = lab.tor.requests.at(-1)!;
    assert.equal(req.atyp, 3);
    assert.equal(req.host, ONION);
    assert.equal(req.username, isolationUsername(ONION));
    await connectViaTor({ proxy: proxy(), host: OTHER, port: 25 });
    assert.notEqual(lab.tor.requests.at(-1)!.username, req.username, 'two destinations, two circuits');
  });

  const expectations: readonly [number, string, boolean][] = [
    [0x01, '01', false], [0x04, '04', false], [0x05, '05', false], [0x06, '06', false],
    [0xf0, 'F0', false], [0xf1, 'F1', false], [0xf2, 'F2', false], [0xf3, 'F3', false],
    [0xf4, 'F4', true], [0xf5, 'F5', true], [0xf6, 'F6', true], [0xf7, 'F7', false],
  ];
  for (const [rep, code, permanent] of expectations) {
    it(`recovers REP 0x${code} that the socks package drops`, async () => {
      lab.tor.setReply(`${OTHER}:${rep}`, { kind: 'fail', rep });
      const r = await connectViaTor({ proxy: proxy(), host: OTHER, port: rep });
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.kind, 'socks-reply');
      assert.equal(r.rep, rep);
      assert.equal(r.code, code);
      assert.equal(r.permanent, permanent);
      assert.match(r.message, new RegExp(`0x${code}`));
    });
  }

  it('a hanging proxy ends in the timeout outcome under a short deadline', async () => {
    lab.tor.setReply(`${OTHER}:2525`, { kind: 'hang' });
    const r = await connectViaTor({ proxy: proxy(), host: OTHER, port: 2525, timeoutMs: 100 });
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.kind, 'timeout');
  });

  it('an AbortSignal ends a hanging connect as aborted', async () => {
    lab.tor.setReply(`${OTHER}:2526`, { kind: 'hang' });
    const controller = new AbortController();
    const pending = connectViaTor({ proxy: proxy(), host: OTHER, port: 2526, signal: controller.signal });
    await lab.tor.waitForRequests(lab.tor.requests.length + 1);
    controller.abort(new Error('shutdown'));
    const r = await pending;
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.kind, 'aborted');
  });

  it('a slow reply still arrives within the deadline', async () => {
    lab.tor.setReply(`${ONION}:25`, { kind: 'slow', delayMs: 30 });
    const r = await connectViaTor({ proxy: proxy(), host: ONION, port: 25, timeoutMs: 20_000 });
    lab.tor.setReply(`${ONION}:25`, undefined);
    assert.ok(r.ok);
    r.socket.destroy();
  });

  it('a closed SocksPort, a proxy that hangs up, garbage and refused auth are told apart', async () => {
    const dead = await startFakeTor();
    const deadPort = dead.port;
    await dead.close();
    const unreachable = await connectViaTor({ proxy: { kind: 'tcp', host: '127.0.0.1', port: deadPort }, host: ONION, port: 25 });
    assert.equal(!unreachable.ok && unreachable.kind, 'proxy-unreachable');

    lab.tor.setReply(`${OTHER}:1`, { kind: 'close' });
    const closed = await connectViaTor({ proxy: proxy(), host: OTHER, port: 1 });
    assert.equal(!closed.ok && closed.kind, 'proxy-protocol');

    const http: Server = createServer((s) => s.end('HTTP/1.0 400 Bad Request\r\n\r\n'));
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as { port: number }).port;
    const garbage = await connectViaTor({ proxy: { kind: 'tcp', host: '127.0.0.1', port }, host: ONION, port: 25 });
    http.close();
    assert.equal(!garbage.ok && garbage.kind, 'proxy-protocol');

    const noPassword = await startFakeTor({ auth: 'no-auth-only' });
    const noAuthOk = await connectViaTor({ proxy: { kind: 'tcp', host: '127.0.0.1', port: noPassword.port }, host: ONION, port: 25 });
    await noPassword.close();
    assert.equal(!noAuthOk.ok && noAuthOk.kind, 'socks-reply', 'a port with PreferSOCKSNoAuth still answers');
  });
});

describe('probeOnion', () => {
  const lab = fakeTorWithSink();

  it('reports greeting and EHLO capabilities of a reachable onion, then QUITs', async () => {
    const r = await probeOnion({ proxy: { kind: 'tcp', host: '127.0.0.1', port: lab.tor.port }, onion: ONION, port: 25 });
    assert.ok(r.ok, describeProbe(r));
    assert.match(r.greeting, /sink\.test ESMTP/);
    assert.deepEqual(r.capabilities, ['PIPELINING', '8BITMIME', 'SMTPUTF8']);
    assert.match(describeProbe(r), /reachable.*PIPELINING/);
  });

  it('reports Tor\'s code in words', async () => {
    lab.tor.setReply(OTHER, { kind: 'fail', rep: 0xf0 });
    const r = await probeOnion({ proxy: { kind: 'tcp', host: '127.0.0.1', port: lab.tor.port }, onion: OTHER, port: 25 });
    assert.equal(r.ok, false);
    assert.match(describeProbe(r), /UNREACHABLE at connect \[Tor code F0\]: .*descriptor cannot be found.*\(temporary\)/);
  });

  it('a service that connects but never greets ends at the greeting deadline', async () => {
    const silent: Server = createServer(() => {
      // never speaks
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    lab.tor.route(`${OTHER}:2500`, { host: '127.0.0.1', port: (silent.address() as { port: number }).port });
    lab.tor.setReply(OTHER, undefined);
    const r = await probeOnion({ proxy: { kind: 'tcp', host: '127.0.0.1', port: lab.tor.port }, onion: OTHER, port: 2500, greetingTimeoutMs: 50 });
    silent.close();
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.stage, 'greeting');
      assert.equal(r.code, 'timeout');
    }
  });

  it('a 554 greeting and a non-SMTP service are failures at the greeting', async () => {
    const refuser: Server = createServer((s) => s.end('554 5.7.1 go away\r\n'));
    refuser.listen(0, '127.0.0.1');
    await once(refuser, 'listening');
    lab.tor.route(`${OTHER}:2501`, { host: '127.0.0.1', port: (refuser.address() as { port: number }).port });
    const r = await probeOnion({ proxy: { kind: 'tcp', host: '127.0.0.1', port: lab.tor.port }, onion: OTHER, port: 2501 });
    refuser.close();
    assert.equal(!r.ok && r.code, 'smtp-554');
    const ssh: Server = createServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
    ssh.listen(0, '127.0.0.1');
    await once(ssh, 'listening');
    lab.tor.route(`${OTHER}:22`, { host: '127.0.0.1', port: (ssh.address() as { port: number }).port });
    const s = await probeOnion({ proxy: { kind: 'tcp', host: '127.0.0.1', port: lab.tor.port }, onion: OTHER, port: 22 });
    ssh.close();
    assert.equal(!s.ok && s.kind, 'smtp-protocol');
  });
});
