// The Prometheus alert rules in examples/prometheus: promtool accepts them and the example
// Prometheus configuration, their unit tests pass (and a broken expectation fails them), every
// alert is tested firing and quiet, and every alert tells the operator what to check first.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import yaml from 'js-yaml';
import { needPrograms } from '../helpers/system.ts';
import { PROMETHEUS_DIR, RULES_FILE, loadAlertRules, ruleTestFiles } from '../helpers/observability-examples.ts';

function promtool(args: readonly string[], cwd = PROMETHEUS_DIR): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.error, undefined, String(r.error));
  return { status: r.status, output: r.stdout + r.stderr };
}

interface RuleTestFile {
  readonly rule_files: readonly string[];
  readonly tests: readonly { readonly name: string; readonly alert_rule_test: readonly { readonly alertname: string; readonly exp_alerts: readonly unknown[] }[] }[];
}

describe('Prometheus alert rules (examples/prometheus)', () => {
  const rules = loadAlertRules();

  it('ship the alerts an operator needs, each with a severity, a summary and a runbook-style description', () => {
    assert.deepEqual(rules.map((r) => r.alert).sort(), [
      'OnionMxAbsent',
      'OnionMxAllOnionRoutesUnreachable',
      'OnionMxDnsFailureRate',
      'OnionMxDnssecBogus',
      'OnionMxDown',
      'OnionMxMilterErrors',
      'OnionMxOnionDeliveryStalled',
      'OnionMxOnionRouteUnreachable',
      'OnionMxRestarting',
      'OnionMxTempfailRateHigh',
      'OnionMxTorSocksUnreachable',
    ]);
    for (const r of rules) {
      assert.match(r.labels['severity'] ?? '', /^(critical|warning)$/, r.alert);
      assert.ok((r.annotations['summary'] ?? '').length > 10, `${r.alert}: summary`);
      assert.match(r.annotations['description'] ?? '', /First check/, `${r.alert}: the description names the first thing to check`);
    }
  });

  it('alert on the scrape job the example Prometheus configuration defines', () => {
    const config = yaml.load(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as { rule_files: string[]; scrape_configs: { job_name: string }[] };
    assert.deepEqual(config.rule_files, [basename(RULES_FILE)]);
    const jobs = config.scrape_configs.map((s) => s.job_name);
    for (const r of rules.filter((x) => /\bup\b/.test(x.expr))) {
      const job = /job="([^"]+)"/.exec(r.expr)?.[1];
      assert.ok(job !== undefined && jobs.includes(job), `${r.alert} names job ${String(job)}, the example scrapes ${jobs.join(', ')}`);
    }
  });

  it('have unit tests in which every alert fires once and stays quiet once', () => {
    const files = ruleTestFiles();
    assert.ok(files.length > 0);
    const fired = new Set<string>();
    const quiet = new Set<string>();
    for (const file of files) {
      const doc = yaml.load(readFileSync(file, 'utf8')) as RuleTestFile;
      assert.deepEqual(doc.rule_files, [basename(RULES_FILE)], file);
      for (const t of doc.tests) for (const c of t.alert_rule_test) (c.exp_alerts.length > 0 ? fired : quiet).add(c.alertname);
    }
    for (const r of rules) {
      assert.ok(fired.has(r.alert), `${r.alert} has no unit test where it fires`);
      assert.ok(quiet.has(r.alert), `${r.alert} has no unit test where it stays quiet`);
    }
  });

  describe('with promtool', { skip: needPrograms('promtool') }, () => {
    it('promtool check rules accepts the rules', () => {
      const r = promtool(['check', 'rules', RULES_FILE]);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
    });

    it('promtool check config accepts the example Prometheus configuration and its rule file', () => {
      const r = promtool(['check', 'config', 'prometheus.yml']);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, /SUCCESS: 1 rule files found/);
    });

    it('promtool test rules passes every unit test file', () => {
      for (const file of ruleTestFiles()) {
        const r = promtool(['test', 'rules', basename(file)]);
        assert.equal(r.status, 0, `${file}:\n${r.output}`);
        assert.match(r.output, /SUCCESS/);
      }
    });

    it('promtool test rules fails when an expectation is wrong (the unit tests can fail)', () => {
      const dir = mkdtempSync(join(tmpdir(), 'onionmx-promtool-'));
      try {
        copyFileSync(RULES_FILE, join(dir, basename(RULES_FILE)));
        const [file] = ruleTestFiles();
        assert.ok(file !== undefined);
        const text = readFileSync(file, 'utf8');
        const broken = text.replace('severity: "critical"', 'severity: "warning"');
        assert.notEqual(broken, text);
        writeFileSync(join(dir, 't.test.yml'), broken);
        const r = promtool(['test', 'rules', 't.test.yml'], dir);
        assert.equal(r.status, 1, r.output);
        assert.match(r.output, /FAILED/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
