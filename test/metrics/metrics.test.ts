// Metrics scraped from a running daemon after a scripted load: decisions, tempfails, DNS queries,
// cache hits/misses, milter connections and health probes show the right counts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { MilterClient } from '../../src/milter/index.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { silentLogger } from '../../src/log.ts';
import { Metrics } from '../../src/metrics/index.ts';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';
import { httpGet, samples } from '../helpers/prometheus.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';

const UP = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const DOWN = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';
const SRV_TARGET = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';

describe('metrics from a running daemon', () => {
  let dns: DnsTestServer;
  let tor: FakeTor;
  let sink: Sink;
  let dir: string;
  let daemon: Daemon;
  let milter: string;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-metrics-'));
    sink = await startSink();
    tor = await startFakeTor({ routes: { [`${UP}:25`]: { host: '127.0.0.1', port: sink.port }, [`${SRV_TARGET}:25`]: { host: '127.0.0.1', port: sink.port } }, replies: { [DOWN]: { kind: 'fail', rep: 0xf2 } } });
    dns = await startDnsServer({
      zones: [{ origin: 'example', soa: { ttl: 300, minimum: 60 }, records: [{ name: '_onion-mx._tcp.srv.example', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: SRV_TARGET } }] }],
      behaviour: (q) => (q.name.toLowerCase().includes('broken') ? { kind: 'servfail' } : { kind: 'zone', ad: true }),
    });
    writeFileSync(join(dir, 'pins.yml'), `up.example: ${UP}\ndown.example: ${DOWN}\n`);
    const text = [
      'milter:\n  listen: inet:127.0.0.1:0',
      `maps: [${join(dir, 'pins.yml')}]`,
      'bundled_map: false',
      `dns:\n  servers: ["127.0.0.1:${dns.port}"]\n  timeout: 300ms\n  deadline: 600ms`,
      `tor:\n  socks: 127.0.0.1:${tor.port}\n  connect_timeout: 5s`,
      'health:\n  enabled: true\n  interval: 10m\n  failures_before_unreachable: 1',
      'metrics:\n  listen: 127.0.0.1:0',
      '',
    ].join('\n');
    const parsed = parseConfigText(text, 'c.yml');
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
    daemon = new Daemon(parsed.config, silentLogger());
    const listeners = await daemon.start();
    milter = listeners.milter;
    port = Number(/:(\d+)$/.exec(listeners.metrics ?? '')?.[1]);
  });
  after(async () => {
    await daemon.close(1000);
    await tor.close();
    await sink.close();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const transaction = async (rcpts: readonly string[]): Promise<string[]> => {
    const client = await MilterClient.connect(milter);
    const kinds: string[] = [];
    try {
      await client.negotiate();
      await client.mailFrom('<s@client.example>');
      for (const r of rcpts) {
        client.macro('R', { '{rcpt_mailer}': 'smtp' });
        kinds.push((await client.rcptTo(`<${r}>`)).kind);
      }
      client.abort();
    } finally {
      await client.quit();
    }
    return kinds;
  };

  it('counts decisions, tempfails, DNS queries, cache use and connections after a scripted load', async () => {
    await transaction(['a@up.example', 'b@up.example']);
    await transaction(['a@srv.example', 'b@srv.example']);
    await transaction(['a@broken.example']);
    await transaction(['a@nobody.example', 'a@down.example']);
    const scrape = await httpGet(port, '/metrics');
    assert.equal(scrape.status, 200);
    assert.match(scrape.type, /^text\/plain/);
    const s = samples(scrape.body);
    const expect: Record<string, number> = {
      'onionmx_decisions_total{outcome="route",source="static"}': 3,
      'onionmx_decisions_total{outcome="route",source="srv"}': 2,
      'onionmx_decisions_total{outcome="tempfail",reason="servfail"}': 1,
      'onionmx_decisions_total{outcome="none",reason="nxdomain"}': 1,
      'onionmx_tempfails_total{reason="servfail"}': 1,
      'onionmx_dns_queries_total{result="NOERROR",transport="udp"}': 1,
      'onionmx_dns_queries_total{result="NXDOMAIN",transport="udp"}': 1,
      'onionmx_dns_queries_total{result="servfail"}': 1,
      'onionmx_dns_query_duration_seconds_count{result="NOERROR"}': 1,
      'onionmx_srv_cache_lookups_total{result="hit"}': 1,
      'onionmx_srv_cache_lookups_total{result="miss"}': 3,
      'onionmx_srv_cache_entries{}': 3,
      'onionmx_milter_connections_total{}': 4,
      'onionmx_decision_duration_seconds_count{outcome="route"}': 5,
    };
    for (const [key, value] of Object.entries(expect)) assert.equal(s.get(key), value, `${key}\n${scrape.body.split('\n').filter((l) => l.startsWith('onionmx_') && !l.includes('process') && !l.includes('nodejs')).join('\n')}`);
  });

  it('probe results per onion after a health tick, and /healthz lists the unreachable one', async () => {
    assert.ok(daemon.health !== undefined);
    await daemon.health.tick();
    const s = samples((await httpGet(port, '/metrics')).body);
    assert.equal(s.get(`onionmx_probes_total{onion="${UP}",result="reachable"}`), 1);
    assert.equal(s.get(`onionmx_probes_total{code="F2",onion="${DOWN}",result="unreachable"}`), 1);
    assert.equal(s.get(`onionmx_onion_reachable{onion="${UP}"}`), 1);
    assert.equal(s.get(`onionmx_onion_reachable{onion="${DOWN}"}`), 0);
    assert.equal(s.get(`onionmx_onion_unreachable{onion="${DOWN}"}`), 1);
    assert.equal(s.get(`onionmx_onion_last_error{code="F2",onion="${DOWN}"}`), 1);
    const healthz = await httpGet(port, '/healthz');
    assert.equal(healthz.status, 200);
    const body = JSON.parse(healthz.body) as { ok: boolean; health: { unreachable: { onion: string; code: string }[] } };
    assert.equal(body.ok, true);
    assert.deepEqual(body.health.unreachable.map((u) => [u.onion, u.code]), [[DOWN, 'F2']]);
  });

  it('under on_unreachable: route the unreachable onion is still routed (MTA queues and retries)', async () => {
    assert.deepEqual(await transaction(['a@down.example']), ['continue']);
  });

  it('answers 404 elsewhere and 405 for other methods', async () => {
    assert.equal((await httpGet(port, '/')).status, 404);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/metrics', method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 405);
  });
});

describe('Metrics registry', () => {
  it('two instances never share counts', async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    a.lookupRequest('socketmap', 'route');
    assert.equal(samples(await a.text()).get('onionmx_lookup_requests_total{result="route",server="socketmap"}'), 1);
    assert.equal(samples(await b.text()).get('onionmx_lookup_requests_total{result="route",server="socketmap"}'), undefined);
  });
});
