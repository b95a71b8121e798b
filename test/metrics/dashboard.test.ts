// The Grafana dashboard in examples/grafana: every panel and query uses the datasource variable
// (no datasource of ours hard-coded), the panels the issue asks for are there, the layout does not
// overlap, and every query is valid PromQL (promtool checks them as recording rules).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { needPrograms } from '../helpers/system.ts';
import { DASHBOARD_FILE, dashboardQueries, loadDashboard, withGrafanaVariables } from '../helpers/observability-examples.ts';

describe('Grafana dashboard (examples/grafana)', () => {
  const dashboard = loadDashboard();
  const panels = dashboard.panels.filter((p) => p.type !== 'row');

  it('takes its Prometheus from a datasource variable, in every panel and query', () => {
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    assert.equal(variable?.name, 'datasource');
    assert.equal(variable.query, 'prometheus');
    for (const p of panels) {
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
      for (const t of p.targets ?? []) assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' }, `${p.title} ${t.refId}`);
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) assert.equal(v.datasource?.uid, '${datasource}', v.name);
    // No other datasource reference anywhere (an export of a live dashboard would carry its uid).
    const uids = [...readFileSync(DASHBOARD_FILE, 'utf8').matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(uids)].sort(), ['${datasource}', '-- Grafana --', 'onionmx-milter'].sort());
  });

  it('has the panels an operator looks for, with unique ids and queries', () => {
    const titles = panels.map((p) => p.title);
    for (const wanted of [
      'Decisions by outcome and source',
      'Deferrals by reason',
      'SRV queries by result',
      'DNS failure ratio',
      'SRV query latency',
      'SRV cache hit rate',
      'Onion routes reachable',
      'Onion routes now',
      'Probes by result and Tor code',
      'Relay deliveries by outcome',
      'Relay Tor errors by code',
      'Relay upstream sessions',
      'Relay connections open',
    ]) {
      assert.ok(titles.includes(wanted), `panel "${wanted}"`);
    }
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of panels) {
      assert.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
      const refs = (p.targets ?? []).map((t) => t.refId);
      assert.equal(new Set(refs).size, refs.length, `${p.title}: refIds are unique`);
    }
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const g = p.gridPos;
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${p.title}: inside the grid`);
      for (let y = g.y; y < g.y + g.h; y++) {
        for (let x = g.x; x < g.x + g.w; x++) {
          const cell = `${x},${y}`;
          assert.ok(!cells.has(cell), `${p.title} overlaps another panel at ${cell}`);
          cells.add(cell);
        }
      }
    }
  });

  it('has only valid PromQL (promtool check rules over the queries as recording rules)', { skip: needPrograms('promtool') }, () => {
    const queries = dashboardQueries(dashboard);
    const dir = mkdtempSync(join(tmpdir(), 'onionmx-dashboard-'));
    try {
      const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: withGrafanaVariables(q.expr, { job: 'onionmx-milter', instance: '.*', rateInterval: '1m' }) }));
      writeFileSync(join(dir, 'queries.yml'), yaml.dump({ groups: [{ name: 'dashboard', rules }] }));
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'queries.yml')], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`SUCCESS: ${queries.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
