// DNS over Tor: the pipelined TCP channel on its own, then the resolver built from a config with
// dns.via_tor against the Tor stand-in forwarding to a local DNS server. The SRV answer arrives
// over TCP through the proxy; no UDP query leaves.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { decode, encode } from 'dns-packet';
import { createPipelinedTcpChannels } from '../../src/resolve/dns/tcp-pipelined.ts';
import { createStubResolver } from '../../src/resolve/dns/stub-resolver.ts';
import { DnsTcpFramer, frameTcpMessage } from '../../src/resolve/dns/tcp-framer.ts';
import { buildResolver } from '../../src/resolve/from-config.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { silentLogger } from '../../src/log.ts';
import { DNS_ISOLATION_USERNAME } from '../../src/tor/dns-over-tor.ts';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';

const TARGET = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const RESOLVER_ONION = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';
const REMOTE_IP = '192.0.2.53';

const zones = [
  {
    origin: 'example',
    soa: { ttl: 300, minimum: 60 },
    records: [
      { name: '_onion-mx._tcp.a.example', type: 'SRV' as const, ttl: 300, data: { priority: 0, weight: 5, port: 25, target: TARGET } },
      { name: '_onion-mx._tcp.b.example', type: 'SRV' as const, ttl: 300, data: { priority: 0, weight: 5, port: 2525, target: TARGET } },
    ],
  },
];

const direct = (port: number) => async () => {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    return { ok: true as const, socket };
  } catch (err) {
    return { ok: false as const, detail: (err as Error).message };
  }
};

describe('pipelined TCP channel', () => {
  let dns: DnsTestServer;
  before(async () => {
    dns = await startDnsServer({ zones, behaviour: () => ({ kind: 'zone', ad: true }) });
  });
  after(async () => {
    await dns.close();
  });

  it('carries many concurrent queries over one connection and keeps it for later ones', async () => {
    const channels = createPipelinedTcpChannels({ open: direct(dns.port) });
    const stub = createStubResolver({ servers: [{ address: '127.0.0.1', port: dns.port }], streamExchange: channels.exchange.bind(channels) });
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((x) => `_onion-mx._tcp.${x}.example`);
    const results = await Promise.all(names.map((n) => stub.query(n, 'SRV')));
    assert.deepEqual(results.map((r) => r.ok && r.rcode), ['NOERROR', 'NOERROR', 'NXDOMAIN', 'NXDOMAIN', 'NXDOMAIN', 'NXDOMAIN', 'NXDOMAIN', 'NXDOMAIN']);
    assert.ok(results.every((r) => r.ok && r.transport === 'tcp' && r.authenticated));
    const later = await stub.query(names[0]!, 'SRV');
    assert.ok(later.ok);
    assert.equal(channels.stats.connectionsOpened, 1);
    assert.equal(dns.counts.udp, 0);
    channels.close();
  });

  it('matches replies that come back in reverse order', async () => {
    const server: Server = createServer((socket) => {
      const framer = new DnsTcpFramer();
      const held: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => {
        for (const m of framer.push(chunk)) {
          const q = decode(m);
          held.push(encode({ type: 'response', id: q.id, flags: 0x8180, questions: q.questions ?? [], answers: [] }));
        }
        if (held.length === 2) for (const r of held.reverse()) socket.write(frameTcpMessage(r));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const channels = createPipelinedTcpChannels({ open: direct(port) });
    const stub = createStubResolver({ servers: [{ address: '127.0.0.1', port }], streamExchange: channels.exchange.bind(channels) });
    const [x, y] = await Promise.all([stub.query('_onion-mx._tcp.x.example', 'SRV'), stub.query('_onion-mx._tcp.y.example', 'SRV')]);
    channels.close();
    server.close();
    assert.ok(x?.ok && y?.ok);
    assert.equal(channels.stats.connectionsOpened, 1);
  });

  it('a query that gets no reply times out without killing the connection; a dropped connection reopens', async () => {
    // The opener follows the fixture to its new port after the restart below.
    const channels = createPipelinedTcpChannels({ open: () => direct(dns.port)() });
    const stub = createStubResolver({ servers: [{ address: '127.0.0.1', port: 53 }], attempts: 1, attemptTimeoutMs: 100, deadlineMs: 100, streamExchange: channels.exchange.bind(channels) });
    dns.setBehaviour((q) => (q.name.toLowerCase().includes('silent') ? { kind: 'drop' } : { kind: 'zone', ad: true }));
    const silent = await stub.query('_onion-mx._tcp.silent.example', 'SRV');
    assert.equal(!silent.ok && silent.reason, 'timeout');
    assert.ok((await stub.query('_onion-mx._tcp.a.example', 'SRV')).ok);
    assert.equal(channels.stats.connectionsOpened, 1);
    dns.setBehaviour(() => ({ kind: 'zone', ad: true }));
    // The server goes away mid-life: the next query opens a new connection.
    await dns.close();
    dns = await startDnsServer({ zones, behaviour: () => ({ kind: 'zone', ad: true }) });
    const again = await stub.query('_onion-mx._tcp.a.example', 'SRV');
    assert.ok(again.ok, JSON.stringify(again));
    assert.equal(channels.stats.connectionsOpened, 2);
    channels.close();
  });

  it('a stream that cannot be opened is a network failure, and a closed channel set refuses', async () => {
    const channels = createPipelinedTcpChannels({ open: () => Promise.resolve({ ok: false, detail: 'Tor refused: F0' }) });
    const stub = createStubResolver({ servers: [{ address: '192.0.2.1', port: 53 }], attempts: 1, streamExchange: channels.exchange.bind(channels) });
    const r = await stub.query('_onion-mx._tcp.a.example', 'SRV');
    assert.equal(!r.ok && r.reason, 'network');
    assert.match(!r.ok ? r.detail : '', /Tor refused: F0/);
    channels.close();
    const after = await stub.query('_onion-mx._tcp.a.example', 'SRV');
    assert.equal(after.ok, false);
  });
});

describe('resolver with dns.via_tor through the Tor stand-in', () => {
  let dns: DnsTestServer;
  let tor: FakeTor;
  before(async () => {
    dns = await startDnsServer({ zones, behaviour: () => ({ kind: 'zone', ad: true }) });
    tor = await startFakeTor({ routes: { [`${REMOTE_IP}:53`]: { host: '127.0.0.1', port: dns.port }, [`${RESOLVER_ONION}:53`]: { host: '127.0.0.1', port: dns.port } } });
  });
  after(async () => {
    await tor.close();
    await dns.close();
  });

  const build = async (servers: string) => {
    const parsed = parseConfigText(`bundled_map: false\ndns:\n  via_tor: true\n  servers: ${servers}\ntor:\n  socks: 127.0.0.1:${tor.port}\n`, 'c.yml');
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
    const built = await buildResolver(parsed.config, silentLogger());
    assert.ok(built.ok);
    return built;
  };

  it('an IP resolver marked trust_ad: SRV over TCP through the SocksPort, one connection, no UDP', async () => {
    const before = { udp: dns.counts.udp, tcp: dns.counts.tcp };
    const built = await build(`[{address: ${REMOTE_IP}, trust_ad: true}]`);
    const a = await built.resolver.resolve('user@a.example');
    const b = await built.resolver.resolve('b.example');
    await built.close();
    assert.equal(a.kind, 'route');
    assert.ok(a.kind === 'route' && a.source === 'srv' && a.dnssec && a.onion === TARGET);
    assert.ok(b.kind === 'route' && b.port === 2525);
    assert.equal(dns.counts.udp, before.udp, 'no UDP query left');
    assert.equal(dns.counts.tcp - before.tcp, 2);
    assert.equal(tor.connects(`${REMOTE_IP}:53`), 1, 'one persistent connection for both lookups');
    const req = tor.requests.find((r) => r.destination === `${REMOTE_IP}:53`);
    assert.equal(req?.username, DNS_ISOLATION_USERNAME);
    assert.equal(req?.atyp, 1);
  });

  it('an onion resolver: hostname CONNECT, its AD trusted under dnssec: required', async () => {
    const built = await build(`["${RESOLVER_ONION}"]`);
    const a = await built.resolver.resolve('a.example');
    await built.close();
    assert.ok(a.kind === 'route' && a.dnssec, JSON.stringify(a));
    const req = tor.requests.find((r) => r.destination === `${RESOLVER_ONION}:53`);
    assert.equal(req?.atyp, 3);
  });

  it('Tor refusing the resolver stream tempfails the lookup (never "no route")', async () => {
    tor.setReply(`${REMOTE_IP}:53`, { kind: 'fail', rep: 0x04 });
    const parsed = parseConfigText(`bundled_map: false\ndns:\n  via_tor: true\n  deadline: 1s\n  timeout: 500ms\n  servers: [{address: ${REMOTE_IP}, trust_ad: true}]\ntor:\n  socks: 127.0.0.1:${tor.port}\n`, 'c.yml');
    assert.ok(parsed.ok);
    const built = await buildResolver(parsed.config, silentLogger());
    assert.ok(built.ok);
    const d = await built.resolver.resolve('a.example');
    await built.close();
    tor.setReply(`${REMOTE_IP}:53`, undefined);
    assert.equal(d.kind, 'tempfail');
  });
});
