// The dashboard and the alert rules against the real daemon: `serve` from examples/config.yml
// with metrics on loopback, after a little mail (a pinned domain whose onion fails its health
// probes, an SRV domain whose onion answers, a domain without SRV, one whose DNS fails). Every
// metric and label the dashboard and the rules use must be one the daemon exports (the relay
// listens too); then a real Prometheus
// scrapes the daemon, evaluates the rules (only the failing onion's alert may be pending) and
// answers every dashboard query, with data for the panels this traffic feeds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MilterClient } from '../../src/milter/index.ts';
import { Metrics } from '../../src/metrics/index.ts';
import { exampleConfig, startDaemon, type DaemonProcess } from '../helpers/e2e-daemon.ts';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { httpGet } from '../helpers/prometheus.ts';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus-server.ts';
import { needPrograms } from '../helpers/system.ts';
import { RULES_FILE, TARGET_LABELS, dashboardQueries, loadAlertRules, metricNamesIn, promqlUses, withGrafanaVariables } from '../helpers/observability-examples.ts';

const DOWN = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';
const UP = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/** Metric names and types from the `# TYPE` lines (a family is listed even before it has samples). */
function exportedTypes(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

/** Label names per metric, from the daemon's own registry (prom-client keeps them on each metric). */
function registryLabels(): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const metric of new Metrics().registry.getMetricsAsArray()) {
    const labels = (metric as unknown as { labelNames?: unknown }).labelNames;
    out.set(metric.name, Array.isArray(labels) ? labels.map(String) : []);
  }
  return out;
}

/** Every expression and prose mention of the dashboard and the rules, with where it comes from. */
function observabilitySources(): { readonly where: string; readonly expr: string; readonly prose: boolean }[] {
  return [
    ...dashboardQueries().map((q) => ({ where: `dashboard panel "${q.panel}" ${q.refId}`, expr: q.expr, prose: false })),
    ...loadAlertRules().flatMap((r) => [
      { where: `rule ${r.alert}`, expr: r.expr, prose: false },
      ...Object.entries(r.annotations).map(([k, text]) => ({ where: `rule ${r.alert} ${k}`, expr: text, prose: true })),
    ]),
  ];
}

describe('dashboard and alert rules against a running daemon', () => {
  let dir: string;
  let dns: DnsTestServer;
  let tor: FakeTor;
  let sink: Sink;
  let daemon: DaemonProcess;
  let metricsPort: number;
  let milter: string;

  const rcpt = async (domain: string): Promise<void> => {
    const client = await MilterClient.connect(milter);
    try {
      await client.negotiate();
      await client.mailFrom('<s@client.example>');
      client.macro('R', { '{rcpt_mailer}': 'smtp' });
      await client.rcptTo(`<u@${domain}>`);
      client.abort();
    } finally {
      await client.quit();
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-observe-'));
    sink = await startSink();
    tor = await startFakeTor({ routes: { [`${UP}:25`]: { host: '127.0.0.1', port: sink.port } }, replies: { [DOWN]: { kind: 'fail', rep: 0xf2 } } });
    dns = await startDnsServer({
      zones: [{ origin: 'example', soa: { ttl: 300, minimum: 60 }, records: [{ name: '_onion-mx._tcp.srv.example', type: 'SRV', ttl: 300, data: { priority: 0, weight: 5, port: 25, target: UP } }] }],
      behaviour: (q) => (q.name.toLowerCase().includes('broken') ? { kind: 'servfail' } : { kind: 'zone', ad: true }),
    });
    writeFileSync(join(dir, 'pins.yml'), `down.example: ${DOWN}\n`);
    const configPath = join(dir, 'config.yml');
    milter = `unix:${join(dir, 'milter.sock')}`;
    writeFileSync(
      configPath,
      exampleConfig({
        'milter.listen': milter,
        'milter.submission_listen': `unix:${join(dir, 'submission.sock')}`,
        'milter.socket_group': null,
        maps: [join(dir, 'pins.yml')],
        'dns.servers': [`127.0.0.1:${dns.port}`],
        'tor.socks': `127.0.0.1:${tor.port}`,
        'health.enabled': true,
        'health.interval': '1s',
        'health.failures_before_unreachable': 1,
        'metrics.listen': '127.0.0.1:0',
        'relay.listen': `unix:${join(dir, 'relay.sock')}`,
      }),
    );
    daemon = await startDaemon(configPath);
    const listening = await daemon.waitFor(/metrics and health endpoint listening/);
    metricsPort = Number(/:(\d+)$/.exec(String(listening['listen']))?.[1]);
    for (const domain of ['down.example', 'srv.example', 'srv.example', 'nosrv.example', 'broken.example']) await rcpt(domain);
  });
  after(async () => {
    await daemon.stop();
    await tor.close();
    await sink.close();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports every metric and label the dashboard and the rules use', async () => {
    const exported = exportedTypes((await httpGet(metricsPort, '/metrics')).body);
    const labels = registryLabels();
    assert.deepEqual([...labels.keys()].sort(), [...exported.keys()].sort(), 'the daemon exports exactly what the Metrics registry holds');
    const problems: string[] = [];
    const labelsOf = (name: string): readonly string[] | undefined => {
      if (name === 'up') return [];
      if (exported.has(name)) return labels.get(name) ?? [];
      const base = HISTOGRAM_SUFFIXES.map((s) => (name.endsWith(s) ? name.slice(0, -s.length) : '')).find((b) => b !== '' && exported.get(b) === 'histogram');
      return base === undefined ? undefined : [...(labels.get(base) ?? []), 'le'];
    };
    for (const source of observabilitySources()) {
      if (source.prose) {
        for (const name of metricNamesIn(source.expr)) if (labelsOf(name) === undefined) problems.push(`${source.where}: no metric ${name}`);
        continue;
      }
      const uses = promqlUses(source.expr);
      const known = new Set<string>([...TARGET_LABELS, 'le']);
      for (const m of uses.metrics) {
        const own = labelsOf(m.name);
        if (own === undefined) {
          problems.push(`${source.where}: no metric ${m.name}`);
          continue;
        }
        for (const l of own) known.add(l);
        for (const l of m.labels) if (![...TARGET_LABELS, ...own].includes(l)) problems.push(`${source.where}: ${m.name} has no label ${l}`);
      }
      for (const l of uses.grouping) if (!known.has(l)) problems.push(`${source.where}: groups by ${l}, which none of its metrics has`);
    }
    assert.deepEqual(problems, []);
  });

  it('the dashboard shows every metric of the daemon (apart from Node\'s process metrics)', () => {
    const used = new Set(dashboardQueries().flatMap((q) => promqlUses(q.expr).metrics.map((m) => m.name.replace(/_(bucket|sum|count)$/, ''))));
    const missing = [...registryLabels().keys()].filter((n) => !/^onionmx_(process|nodejs)_/.test(n) && !used.has(n));
    assert.deepEqual(missing, [], 'metrics without a panel');
  });

  describe('scraped by a real Prometheus', { skip: needPrograms('prometheus') }, () => {
    let prometheus: PrometheusServer;
    before(async () => {
      prometheus = await startPrometheus(
        [
          'global: {scrape_interval: 1s, evaluation_interval: 1s}',
          `rule_files: [${JSON.stringify(RULES_FILE)}]`,
          'scrape_configs:',
          '  - job_name: onionmx-milter',
          `    static_configs: [{targets: ["127.0.0.1:${metricsPort}"]}]`,
          '',
        ].join('\n'),
      );
      // Three scrapes after the traffic and the first failed probe, so that rates have samples.
      await prometheus.until('three scrapes with the failed probe', async () => {
        const r = await prometheus.query(`count_over_time(onionmx_onion_reachable{onion="${DOWN}"}[1m])`);
        return Number(r[0]?.value[1] ?? 0) >= 3 ? true : undefined;
      });
    });
    after(async () => {
      await prometheus.close();
    });

    it('evaluates every rule without error; only the failing onion\'s alert is pending', async () => {
      const rules = loadAlertRules();
      const evaluated = await prometheus.until('every rule evaluated', async () => {
        const data = (await prometheus.api('rules')) as { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
        const all = data.groups.flatMap((g) => g.rules);
        return all.length === rules.length && all.every((r) => r.health !== 'unknown') ? all : undefined;
      });
      assert.deepEqual(evaluated.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError ?? r.health}`), []);
      const alerts = await prometheus.until('only the failing onion alerting', async () => {
        const data = (await prometheus.api('alerts')) as { alerts: { labels: Record<string, string>; state: string }[] };
        return data.alerts.length === 1 ? data.alerts : undefined;
      });
      assert.deepEqual(
        alerts.map((a) => [a.labels['alertname'], a.labels['onion'], a.state]),
        [['OnionMxOnionRouteUnreachable', DOWN, 'pending']],
      );
    });

    it('answers every dashboard query, with data where this traffic feeds the panel', async () => {
      const fed = new Set([
        'Daemons up',
        'Recipient decisions/s',
        'Routed over Tor',
        'Deferred (tempfail)',
        'Onion routes unreachable',
        'Milter connections open',
        'Decisions by outcome and source',
        'Deferrals by reason',
        'Not routed, by reason',
        'Decision wait',
        'SRV queries by result',
        'DNS failure ratio',
        'SRV query latency',
        'SRV cache hit rate',
        'SRV cache entries',
        'Onion routes reachable',
        'Onion routes now',
        'Probes by result and Tor code',
        'Milter connections',
        'CPU',
        'Resident memory',
        'Event loop lag p99',
      ]);
      const empty: string[] = [];
      for (const q of dashboardQueries()) {
        const expr = withGrafanaVariables(q.expr, { job: 'onionmx-milter', instance: '.*', rateInterval: '1m' });
        const result = await prometheus.query(expr);
        if (fed.has(q.panel) && result.length === 0) empty.push(`${q.panel} ${q.refId}: ${expr}`);
      }
      assert.deepEqual(empty, []);
      const byOutcome = await prometheus.query('sum by (outcome, source) (onionmx_decisions_total{job="onionmx-milter"})');
      assert.deepEqual(byOutcome.map((r) => `${r.metric['outcome']} ${r.metric['source'] ?? ''} ${r.value[1]}`).sort(), ['none  1', 'route srv 2', 'route static 1', 'tempfail  1']);
    });
  });
});
