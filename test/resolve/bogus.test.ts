// A DNSSEC-bogus SRV answer (a validating resolver's SERVFAIL carrying an Extended DNS Error 6-12)
// from the SRV lookup up to the milter: it stays a failure (cached as one), the recipient is still
// deferred with 451 4.4.3, and logs and metrics now say `bogus` instead of `servfail`.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createStubResolver } from '../../src/resolve/dns/index.ts';
import { lookupOnionSrv } from '../../src/resolve/srv.ts';
import { createSrvSource } from '../../src/resolve/srv-source.ts';
import { Resolver, type StaticSource } from '../../src/resolve/resolver.ts';
import { MilterClient } from '../../src/milter/index.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { startDnsServer, type DnsTestServer, type FixtureReply } from '../helpers/dns-server.ts';
import { httpGet, samples } from '../helpers/prometheus.ts';

const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const BOGUS_TEXT = 'validation failure <_onion-mx._tcp.bogus.example. SRV IN>: signature crypto failed';

/** bogus.* answers SERVFAIL + EDE 6, broken.* a plain SERVFAIL, the rest from the zone with AD=1. */
const behaviour = (q: { name: string }): FixtureReply => {
  const name = q.name.toLowerCase();
  if (name.includes('bogus')) return { kind: 'servfail', ede: [{ infoCode: 6, text: BOGUS_TEXT }] };
  if (name.includes('broken')) return { kind: 'servfail' };
  return { kind: 'zone', ad: true };
};

const noMaps: StaticSource = { lookupNormalised: () => ({ kind: 'none' }) };

describe('a DNSSEC-bogus SRV answer through lookup, cache and resolver', () => {
  let dns: DnsTestServer;
  let t = 0;
  const stub = () => createStubResolver({ servers: [{ address: dns.address, port: dns.port }], attemptTimeoutMs: 500, attempts: 1 });

  before(async () => {
    dns = await startDnsServer({
      zones: [{ origin: 'example', soa: { ttl: 300, minimum: 60 }, records: [{ name: '_onion-mx._tcp.good.example', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: ONION } }] }],
      behaviour,
    });
  });
  after(async () => { await dns.close(); });
  beforeEach(() => {
    t = 1_000_000;
    dns.counts.udp = 0;
  });

  it('lookupOnionSrv answers a failure with reason `bogus` and the EDE text; a plain SERVFAIL stays `servfail`', async () => {
    const bogus = await lookupOnionSrv('bogus.example', { resolver: stub() });
    assert.deepEqual(bogus, { kind: 'failure', reason: 'bogus', detail: `127.0.0.1:${dns.port} answered SERVFAIL: EDE 6 (DNSSEC Bogus): ${BOGUS_TEXT}`, ttlMs: 0 });
    const plain = await lookupOnionSrv('broken.example', { resolver: stub() });
    assert.equal(plain.kind === 'failure' && plain.reason, 'servfail');
  });

  it('the cache keeps it as a failure, for the failure TTL', async () => {
    const src = createSrvSource({ resolver: stub(), cache: { now: () => t, failureTtlMs: 30_000 } });
    const first = await src.lookup('bogus.example');
    assert.deepEqual([first.kind, first.kind === 'failure' && first.reason, first.ttlMs], ['failure', 'bogus', 30_000]);
    t += 10_000;
    const again = await src.lookup('bogus.example');
    assert.deepEqual([again.kind, again.kind === 'failure' && again.reason, again.ttlMs], ['failure', 'bogus', 20_000]);
    assert.equal(dns.counts.udp, 1, 'answered from the cache');
    t += 20_000;
    await src.lookup('bogus.example');
    assert.equal(dns.counts.udp, 2, 'asked again once the failure TTL ran out');
  });

  it('the resolver tempfails the domain with reason `bogus` (fail closed, under either dnssec setting)', async () => {
    for (const dnssec of ['required', 'optional'] as const) {
      const resolver = new Resolver({ operatorMaps: noMaps, srv: createSrvSource({ resolver: stub() }), dnssec });
      const d = await resolver.resolve('someone@bogus.example');
      assert.equal(d.kind, 'tempfail', `${dnssec}: ${JSON.stringify(d)}`);
      assert.equal(d.kind === 'tempfail' && d.reason, 'bogus');
      assert.match(d.kind === 'tempfail' ? d.detail ?? '' : '', /EDE 6 \(DNSSEC Bogus\): validation failure/);
      const good = await resolver.resolve('someone@good.example');
      assert.equal(good.kind, 'route', JSON.stringify(good));
    }
  });
});

describe('a DNSSEC-bogus SRV answer at the milter (daemon, fixture DNS)', () => {
  let dns: DnsTestServer;
  let daemon: Daemon;
  let milter: string;
  let metricsPort: number;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    dns = await startDnsServer({ zones: [{ origin: 'example', soa: { ttl: 300, minimum: 60 }, records: [] }], behaviour });
    const text = [
      'milter:\n  listen: inet:127.0.0.1:0',
      'bundled_map: false',
      `dns:\n  servers: ["127.0.0.1:${dns.port}"]\n  timeout: 500ms\n  deadline: 1s`,
      // Nothing listens there: no recipient of this test is routed, so nothing connects.
      'tor:\n  socks: 127.0.0.1:9',
      'metrics:\n  listen: 127.0.0.1:0',
      '',
    ].join('\n');
    const parsed = parseConfigText(text, 'c.yml');
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
    const log = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
          done();
        },
      }),
    });
    daemon = new Daemon(parsed.config, log);
    const listeners = await daemon.start();
    milter = listeners.milter;
    metricsPort = Number(/:(\d+)$/.exec(listeners.metrics ?? '')?.[1]);
  });
  after(async () => {
    await daemon?.close(1000);
    await dns?.close();
  });

  const rcpt = async (address: string): Promise<{ kind: string; text: string }> => {
    const client = await MilterClient.connect(milter);
    try {
      await client.negotiate();
      await client.mailFrom('<s@client.example>');
      client.macro('R', { '{rcpt_mailer}': 'smtp' });
      const r = await client.rcptTo(`<${address}>`);
      client.abort();
      return { kind: r.kind, text: r.kind === 'replyCode' ? r.text : '' };
    } finally {
      await client.quit();
    }
  };

  it('defers the recipient with 451 4.4.3, logs and counts reason `bogus`, and caches it as a failure', async () => {
    const first = await rcpt('a@bogus.example');
    assert.equal(first.kind, 'replyCode', JSON.stringify(first));
    assert.match(first.text, /^451 4\.4\.3 Onion route lookup for bogus\.example failed temporarily \(bogus: /);
    const second = await rcpt('b@bogus.example');
    assert.match(second.text, /^451 4\.4\.3 /, 'the cached failure defers too');
    const plain = await rcpt('a@broken.example');
    assert.match(plain.text, /^451 4\.4\.3 .*\(servfail: /);

    const logged = lines.filter((l) => l['msg'] === 'recipient tempfailed: onion route lookup failed' && l['domain'] === 'bogus.example');
    assert.equal(logged.length, 2, JSON.stringify(lines));
    assert.match(String(logged[0]?.['reason']), /^bogus: 127\.0\.0\.1:\d+ answered SERVFAIL: EDE 6 \(DNSSEC Bogus\): validation failure/);

    const s = samples((await httpGet(metricsPort, '/metrics')).body);
    const shown = (): string => [...s].filter(([k]) => k.includes('tempfail') || k.includes('dns_queries')).map(([k, v]) => `${k} ${v}`).join('\n');
    assert.equal(s.get('onionmx_tempfails_total{reason="bogus"}'), 2, shown());
    assert.equal(s.get('onionmx_tempfails_total{reason="servfail"}'), 1, shown());
    assert.equal(s.get('onionmx_decisions_total{outcome="tempfail",reason="bogus"}'), 2, shown());
    assert.equal(s.get('onionmx_dns_queries_total{result="bogus"}'), 1, `one query: the second recipient came from the cache\n${shown()}`);
  });
});
