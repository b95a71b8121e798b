// The shipped Grafana dashboard and Prometheus rules, read for tests: their expressions, and the
// metric and label names those use, so tests can hold them against what the daemon exports.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export const PROMETHEUS_DIR = fileURLToPath(new URL('../../../examples/prometheus', import.meta.url));
export const RULES_FILE = join(PROMETHEUS_DIR, 'onionmx-milter.rules.yml');
export const DASHBOARD_FILE = fileURLToPath(new URL('../../../examples/grafana/onionmx-milter.json', import.meta.url));

/** Labels Prometheus adds to every scraped series. */
export const TARGET_LABELS = ['job', 'instance'] as const;

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export function loadAlertRules(path = RULES_FILE): AlertRule[] {
  const doc = yaml.load(readFileSync(path, 'utf8')) as { groups: { rules: Partial<AlertRule>[] }[] };
  return doc.groups.flatMap((g) => g.rules).map((r) => ({ alert: r.alert ?? '', expr: r.expr ?? '', for: r.for, labels: r.labels ?? {}, annotations: r.annotations ?? {} }));
}

export function ruleTestFiles(): string[] {
  return readdirSync(PROMETHEUS_DIR)
    .filter((f) => f.endsWith('.test.yml'))
    .map((f) => join(PROMETHEUS_DIR, f));
}

export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly gridPos: { readonly h: number; readonly w: number; readonly x: number; readonly y: number };
  readonly targets?: readonly { readonly expr: string; readonly refId: string; readonly datasource?: { readonly type?: string; readonly uid?: string } }[];
}

export interface Dashboard {
  readonly title: string;
  readonly uid: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly type: string; readonly name: string; readonly query?: unknown; readonly datasource?: { readonly uid?: string } }[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

export interface DashboardQuery {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

/** Every query of every panel, in panel order. */
export function dashboardQueries(dashboard = loadDashboard()): DashboardQuery[] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })));
}

/** The dashboard's Grafana variables replaced, so Prometheus can run the expression as is. */
export function withGrafanaVariables(expr: string, values: { readonly job: string; readonly instance: string; readonly rateInterval: string }): string {
  return expr.replaceAll('$__rate_interval', values.rateInterval).replaceAll('$job', values.job).replaceAll('$instance', values.instance);
}

export interface MetricUse {
  readonly name: string;
  /** Label names in the selector's matchers. */
  readonly labels: readonly string[];
}

export interface PromqlUses {
  readonly metrics: readonly MetricUse[];
  /** Label names in by/without/on/ignoring/group_left/group_right clauses. */
  readonly grouping: readonly string[];
}

/**
 * Metric names (ours, plus `up`) and label names an expression uses. A regex reading, not a
 * PromQL parser: it suffices for the expressions we write (promtool checks their syntax).
 */
export function promqlUses(expr: string): PromqlUses {
  const metrics: MetricUse[] = [];
  for (const m of expr.matchAll(/\b(onionmx_[a-z0-9_]+|up)\b(?:\{([^}]*)\})?/g)) {
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*(?:"|%q)/g)].map((l) => l[1] ?? '');
    metrics.push({ name: m[1] ?? '', labels });
  }
  const grouping = [...expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap((g) =>
    (g[1] ?? '')
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean),
  );
  return { metrics, grouping };
}

/** Metric names mentioned in prose (annotations), which must exist too. */
export function metricNamesIn(text: string): string[] {
  return [...text.matchAll(/\bonionmx_[a-z0-9_]+\b/g)].map((m) => m[0]);
}
