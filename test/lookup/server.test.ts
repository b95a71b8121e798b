// Lookup servers over loopback TCP and unix sockets, against a resolver stand-in the test
// controls: persistent connections, pipelined requests answered in order, each protocol's reply
// rules, malformed requests, half-close, and the lookup budget (TEMP at once, then the cached
// answer) without any timed assertion.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.ts';
import { LookupAnswerer, createLookupServer, type DecisionSource, type LookupServer, type LookupProtocol } from '../../src/lookup/index.ts';
import { encodeNetstring } from '../../src/lookup/netstring.ts';
import type { Decision, OnionTarget } from '../../src/resolve/types.ts';
import { eximAsk, socketmapClient, tcpTableClient } from './lookup-clients.ts';

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const B = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';

function route(domain: string, hops: readonly OnionTarget[]): Decision {
  const [first] = hops;
  if (first === undefined) throw new Error('no hops');
  return { kind: 'route', domain, onion: first.onion, port: first.port, source: 'srv', dnssec: true, ttl: 300, hops, origin: `_onion-mx._tcp.${domain}` };
}

/** Answers from `known` without I/O; everything else "needs DNS" and waits until release(). */
class FakeResolver implements DecisionSource {
  readonly known = new Map<string, Decision>();
  readonly dnsQueries: string[] = [];
  readonly #held = new Map<string, (d: Decision) => void>();

  peekDomain(domain: string): Decision | undefined {
    return this.known.get(domain);
  }

  resolveDomain(domain: string): Promise<Decision> {
    this.dnsQueries.push(domain);
    return new Promise((resolve) => this.#held.set(domain, resolve));
  }

  /** The DNS answer arrives: it is cached (as the SRV cache would) and the lookup finishes. */
  release(domain: string, decision: Decision): void {
    this.known.set(domain, decision);
    this.#held.get(domain)?.(decision);
    this.#held.delete(domain);
  }
}

function standardResolver(): FakeResolver {
  const r = new FakeResolver();
  r.known.set('onion.example', route('onion.example', [{ onion: A, port: 25 }]));
  r.known.set('multi.example', route('multi.example', [{ onion: A, port: 25 }, { onion: B, port: 25 }, { onion: B, port: 2525 }]));
  r.known.set('odd-port.example', route('odd-port.example', [{ onion: B, port: 2525 }]));
  r.known.set('clear.example', { kind: 'none', domain: 'clear.example', reason: 'nxdomain', ttl: 60 });
  r.known.set('local.example', { kind: 'none', domain: 'local.example', reason: 'local-domain', ttl: 300 });
  r.known.set('broken.example', { kind: 'tempfail', domain: 'broken.example', reason: 'servfail', detail: 'all servers failed', ttl: 0 });
  r.known.set('bad.onion', { kind: 'reject', domain: 'bad.onion', reason: 'not a v3 onion address' });
  return r;
}

interface Fixture {
  readonly resolver: FakeResolver;
  readonly answerer: LookupAnswerer;
  readonly servers: Record<LookupProtocol, LookupServer>;
  readonly ports: Record<LookupProtocol, number>;
  close(): Promise<void>;
}

async function startAll(budgetMs = 60_000, more: { readonly transport?: string; readonly relayNexthop?: string } = {}): Promise<Fixture> {
  const resolver = standardResolver();
  const answerer = new LookupAnswerer({ settings: () => ({ resolver, transport: 'smtptor', budgetMs, ...more }), log: silentLogger() });
  const protocols: LookupProtocol[] = ['socketmap', 'sendmail', 'tcp-table', 'exim'];
  const servers = {} as Record<LookupProtocol, LookupServer>;
  const ports = {} as Record<LookupProtocol, number>;
  for (const p of protocols) {
    servers[p] = createLookupServer({ protocol: p, answerer });
    ports[p] = (await servers[p].listen('inet:127.0.0.1:0')).port ?? 0;
  }
  return { resolver, answerer, servers, ports, close: async () => { await Promise.all(protocols.map((p) => servers[p].close(1000))); } };
}

describe('lookup servers', { timeout: 30_000 }, () => {
  let f: Fixture;
  before(async () => {
    f = await startAll();
  });
  after(async () => {
    await f.close();
  });

  it('Postfix socketmap: many requests on one connection, keys lower-cased, every reply rule', async () => {
    const c = await socketmapClient({ port: f.ports.socketmap });
    assert.equal(await c.ask('transport', 'Alice+Tag@ONION.Example'), `OK smtptor:[${A}]:25`);
    assert.equal(await c.ask('transport', 'bob@multi.example'), `OK smtptor:[${A}]:25,[${B}]:25,[${B}]:2525`);
    assert.equal(await c.ask('transport', '*'), 'NOTFOUND ');
    assert.equal(await c.ask('transport', 'x@clear.example'), 'NOTFOUND ');
    assert.equal(await c.ask('transport', 'x@local.example'), 'NOTFOUND ');
    assert.equal(await c.ask('transport', 'x@[192.0.2.1]'), 'NOTFOUND ');
    assert.equal(await c.ask('transport', 'x@broken.example'), 'TEMP broken.example: servfail (all servers failed)');
    assert.equal(await c.ask('transport', 'x@bad.onion'), 'OK error:5.1.2 invalid onion domain bad.onion: not a v3 onion address');
    // Any map name works for Postfix: it is whatever the operator wrote after the socket address.
    assert.equal(await c.ask('onionmx', 'onion.example'), `OK smtptor:[${A}]:25`);
    assert.deepEqual(f.resolver.dnsQueries, []);
    c.close();
  });

  it('answers pipelined requests in order, also when one of them waits for DNS', async () => {
    const g = await startAll();
    try {
      const c = await socketmapClient({ port: g.ports.socketmap });
      c.write(Buffer.concat([encodeNetstring('t a@slow.example'), encodeNetstring('t a@onion.example'), encodeNetstring('t *')]));
      const first = c.next();
      await waitFor(() => g.resolver.dnsQueries.length === 1);
      g.resolver.release('slow.example', route('slow.example', [{ onion: B, port: 25 }]));
      assert.equal(await first, `OK smtptor:[${B}]:25`);
      assert.equal(await c.next(), `OK smtptor:[${A}]:25`);
      assert.equal(await c.next(), 'NOTFOUND ');
      c.close();
    } finally {
      await g.close();
    }
  });

  it('socketmap: a malformed request gets PERM and the connection stays; broken framing gets PERM and a close', async () => {
    const c = await socketmapClient({ port: f.ports.socketmap });
    c.write(encodeNetstring('no-space-here'));
    assert.match((await c.next()) ?? '', /^PERM request has no space/);
    assert.equal(await c.ask('t', 'x@onion.example'), `OK smtptor:[${A}]:25`);
    c.write('1');
    c.write('2x:');
    assert.match((await c.next()) ?? '', /^PERM netstring length: expected a digit or ':', got 'x'/);
    await c.closed;
    assert.equal(await c.next(), undefined);

    const big = await socketmapClient({ port: f.ports.socketmap });
    big.write('10001:');
    assert.match((await big.next()) ?? '', /^PERM netstring of 10001 bytes is longer than the 10000-byte limit/);
    await big.closed;
  });

  it('tcp_table: %XX keys and replies, 200/500/400, malformed requests answered 400 on a kept connection', async () => {
    const c = await tcpTableClient({ port: f.ports['tcp-table'] });
    assert.equal(await c.ask('"Odd User"@Onion.Example'), `200 smtptor:[${A}]:25`);
    assert.equal(await c.ask('x@multi.example'), `200 smtptor:[${A}]:25,[${B}]:25,[${B}]:2525`);
    assert.equal(await c.ask('*'), '500 not%20found');
    assert.equal(await c.ask('x@clear.example'), '500 not%20found');
    assert.equal(await c.ask('x@broken.example'), '400 broken.example:%20servfail%20(all%20servers%20failed)');
    assert.equal(await c.ask('x@bad.onion'), '200 error:5.1.2%20invalid%20onion%20domain%20bad.onion:%20not%20a%20v3%20onion%20address');
    c.write('put a b\n');
    assert.match((await c.next()) ?? '', /^400 unsupported%20request%20"put"/);
    c.write('get a%zz\n');
    assert.match((await c.next()) ?? '', /^400 bad%20%25XX%20escape/);
    c.write('get x@onion.example\r\n');
    assert.equal(await c.next(), `200 smtptor:[${A}]:25`);
    c.write(`get ${'a'.repeat(5000)}`);
    assert.match((await c.next()) ?? '', /^400 request%20line%20longer%20than%204096%20bytes/);
    await c.closed;
  });

  it('with relay.postfix_nexthop, Postfix routes name the relay for every onion; failures, bounces and Sendmail answers do not change', async () => {
    const g = await startAll(60_000, { transport: 'onionrelay', relayNexthop: 'unix:/onionmx/relay.sock' });
    try {
      const c = await socketmapClient({ port: g.ports.socketmap });
      assert.equal(await c.ask('transport', 'a@onion.example'), 'OK onionrelay:unix:/onionmx/relay.sock');
      assert.equal(await c.ask('transport', 'b@multi.example'), 'OK onionrelay:unix:/onionmx/relay.sock');
      assert.equal(await c.ask('transport', 'x@clear.example'), 'NOTFOUND ');
      assert.equal(await c.ask('transport', 'x@broken.example'), 'TEMP broken.example: servfail (all servers failed)');
      assert.equal(await c.ask('transport', 'x@bad.onion'), 'OK error:5.1.2 invalid onion domain bad.onion: not a v3 onion address');
      c.close();
      const t = await tcpTableClient({ port: g.ports['tcp-table'] });
      assert.equal(await t.ask('x@multi.example'), '200 onionrelay:unix:/onionmx/relay.sock');
      t.close();
      const m = await socketmapClient({ port: g.ports.sendmail });
      assert.equal(await m.ask('mailertable', 'onion.example'), `OK onionrelay:[${A}]`);
      m.close();
    } finally {
      await g.close();
    }
  });

  it('Sendmail socket map: mailertable and onionroute on one connection, partial keys without DNS, never a bare OK', async () => {
    const c = await socketmapClient({ port: f.ports.sendmail });
    assert.equal(await c.ask('mailertable', 'onion.example'), `OK smtptor:[${A}]`);
    assert.equal(await c.ask('onionroute', 'onion.example'), `OK [${A}]`);
    assert.equal(await c.ask('mailertable', 'multi.example'), `OK smtptor:[${A}]:[${B}]`);
    assert.equal(await c.ask('mailertable', '.example'), 'NOTFOUND ');
    assert.equal(await c.ask('mailertable', '.'), 'NOTFOUND ');
    assert.equal(await c.ask('mailertable', '.some.unknown.example'), 'NOTFOUND ');
    assert.equal(await c.ask('mailertable', 'clear.example'), 'NOTFOUND ');
    assert.match((await c.ask('mailertable', 'odd-port.example')) ?? '', /^TEMP odd-port\.example: the route uses port 2525/);
    assert.equal(await c.ask('mailertable', 'broken.example'), 'TEMP broken.example: servfail (all servers failed)');
    assert.equal(await c.ask('mailertable', 'bad.onion'), 'OK error:5.1.2:550 invalid onion domain bad.onion: not a v3 onion address');
    assert.match((await c.ask('aliases', 'onion.example')) ?? '', /^PERM unknown map name "aliases"/);
    assert.deepEqual(f.resolver.dnsQueries, []);
    c.close();
  });

  it('Exim readsocket: one request per connection, reply then close; with and without write shutdown', async () => {
    const ep = { port: f.ports.exim };
    assert.equal(await eximAsk(ep, 'route bob@Onion.Example\n'), `${A}::25`);
    assert.equal(await eximAsk(ep, 'route multi.example'), `${A}::25:${B}::25:${B}::2525`);
    assert.equal(await eximAsk(ep, 'route x@onion.example\n', { shutdown: false }), `${A}::25`);
    assert.equal(await eximAsk(ep, 'route x@clear.example\n'), '');
    assert.equal(await eximAsk(ep, 'route x@broken.example\n'), 'DEFER broken.example: servfail (all servers failed)');
    assert.equal(await eximAsk(ep, 'route x@bad.onion\n'), 'FAIL invalid onion domain bad.onion: not a v3 onion address');
    assert.equal(await eximAsk(ep, 'header onion.example clear.example multi.example\n'), `multi.example=${A}:25 onion.example=${A}:25`);
    assert.equal(await eximAsk(ep, 'header clear.example\n'), '');
    assert.match(await eximAsk(ep, 'header onion.example broken.example\n'), /^DEFER broken\.example: servfail/);
    assert.match(await eximAsk(ep, 'header a@onion.example\n'), /^DEFER header takes domains/);
    assert.match(await eximAsk(ep, 'bogus\n'), /^DEFER unknown request "bogus"/);
    assert.match(await eximAsk(ep, ''), /^DEFER empty request/);
    assert.match(await eximAsk(ep, 'route ' + 'a'.repeat(5000), { shutdown: false }), /^DEFER request longer than 4096 bytes/);
  });

  it('listens on a unix socket with the configured mode and removes it on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onionmx-lookup-'));
    const path = join(dir, 'tcp.sock');
    const s = createLookupServer({ protocol: 'tcp-table', answerer: f.answerer, socketMode: 0o660 });
    try {
      await s.listen(`unix:${path}`);
      assert.equal((await stat(path)).mode & 0o777, 0o660);
      const c = await tcpTableClient({ path });
      assert.equal(await c.ask('x@onion.example'), `200 smtptor:[${A}]:25`);
      c.close();
      assert.equal(await eximAsk({ path: join(dir, 'none') }, 'x').catch(() => 'refused'), 'refused');
    } finally {
      await s.close(100);
    }
    await assert.rejects(stat(path));
    await rm(dir, { recursive: true, force: true });
  });

  it('a half-closed persistent connection still gets its answers before the server closes', async () => {
    const ep = { port: f.ports.socketmap };
    const reply = await eximAsk(ep, Buffer.concat([encodeNetstring('t a@onion.example'), encodeNetstring('t *')]).toString());
    assert.equal(reply, `${encodeNetstring(`OK smtptor:[${A}]:25`).toString()}${encodeNetstring('NOTFOUND ').toString()}`);
  });
});

describe('lookup budget', { timeout: 30_000 }, () => {
  it('answers TEMP / 400 / DEFER at once when DNS is slow, keeps resolving, and the retry gets the cached route', async () => {
    const g = await startAll(20);
    try {
      const sm = await socketmapClient({ port: g.ports.socketmap });
      const tcp = await tcpTableClient({ port: g.ports['tcp-table'] });
      assert.equal(await sm.ask('transport', 'a@slow.example'), 'TEMP slow.example: lookup still in progress after 20 ms, try again');
      assert.equal(await tcp.ask('b@SLOW.example'), '400 slow.example:%20lookup%20still%20in%20progress%20after%2020%20ms,%20try%20again');
      assert.equal(await eximAsk({ port: g.ports.exim }, 'route c@slow.example\n'), 'DEFER slow.example: lookup still in progress after 20 ms, try again');
      // One background lookup for all three requests, still running after the answers.
      assert.deepEqual(g.resolver.dnsQueries, ['slow.example']);
      assert.equal(g.answerer.inflight, 1);
      g.resolver.release('slow.example', route('slow.example', [{ onion: B, port: 25 }]));
      await waitFor(() => g.answerer.inflight === 0);
      assert.equal(await sm.ask('transport', 'a@slow.example'), `OK smtptor:[${B}]:25`);
      assert.equal(await tcp.ask('b@slow.example'), `200 smtptor:[${B}]:25`);
      assert.deepEqual(g.resolver.dnsQueries, ['slow.example']);
      sm.close();
      tcp.close();
    } finally {
      await g.close();
    }
  });

  it('a lookup that finishes within the budget answers its result directly', async () => {
    const g = await startAll(60_000);
    try {
      const sm = await socketmapClient({ port: g.ports.socketmap });
      const reply = sm.ask('transport', 'a@quick.example');
      await waitFor(() => g.resolver.dnsQueries.length === 1);
      g.resolver.release('quick.example', { kind: 'none', domain: 'quick.example', reason: 'no-srv', ttl: 60 });
      assert.equal(await reply, 'NOTFOUND ');
      sm.close();
    } finally {
      await g.close();
    }
  });
});

/** Polls a condition on the event loop (a failure bound only, never a timing assertion). */
async function waitFor(condition: () => boolean, boundMs = 5000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setImmediate(r));
  }
}
