import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { requireTool } from '@cryptoagg/testkit/tools';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

interface Rule {
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface PromtoolTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const RULES_FILE = path.join(REPO_ROOT, 'gitops/components/alerts-and-dashboard/prometheus-rules.yaml');
const TESTS_FILE = path.join(REPO_ROOT, 'test/monitoring/alerts.promtool.yaml');
const RUNBOOKS = readFileSync(path.join(REPO_ROOT, 'docs/runbooks.md'), 'utf8');

const prometheusRule = parse(readFileSync(RULES_FILE, 'utf8')) as { spec: { groups: { name: string; rules: Rule[] }[] } };
const alerts = prometheusRule.spec.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => !!r.alert);

const hasPromtool = requireTool('promtool');
const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-promtool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** promtool reads plain rule groups: the shipped PrometheusRule's spec, written out as is. */
function promtool(args: string[], groups = prometheusRule.spec.groups): { status: number | null; output: string } {
  writeFileSync(path.join(scratch, 'rules.yaml'), stringify({ groups }));
  copyFileSync(TESTS_FILE, path.join(scratch, 'alerts.promtool.yaml'));
  const result = spawnSync('promtool', args, { cwd: scratch, encoding: 'utf8' });
  if (result.error) throw new Error(`promtool is required (Debian package prometheus): ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('alert rules (promtool, on the shipped PrometheusRule)', () => {
  it.skipIf(!hasPromtool)('are valid rules', () => {
    const check = promtool(['check', 'rules', 'rules.yaml']);
    expect(check.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(check.status).toBe(0);
  });

  it.skipIf(!hasPromtool)('pass their unit tests', () => {
    const test = promtool(['test', 'rules', 'alerts.promtool.yaml']);
    expect(test.output).toContain('SUCCESS');
    expect(test.status).toBe(0);
  });

  it('each alert is tested firing and not firing', () => {
    const cases = (parse(readFileSync(TESTS_FILE, 'utf8')) as PromtoolTests).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of alerts) {
      expect(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0),
        `${alert} firing`,
      ).toBe(true);
      expect(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0),
        `${alert} not firing`,
      ).toBe(true);
    }
  });

  it('each alert has a severity, a summary, a description and a runbook section that exists', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'CryptoaggCacheUnavailable',
      'CryptoaggConsensusSpreadHigh',
      'CryptoaggDataStale',
      'CryptoaggFetchFailing',
      'CryptoaggFetcherJobFailed',
      'CryptoaggGatewayErrorRate',
      'CryptoaggHighLatency',
      'CryptoaggPodNotReady',
      'CryptoaggRedisMemoryHigh',
      'CryptoaggRedisPersistenceFailing',
      'CryptoaggRetentionBehind',
      'CryptoaggSourceFailing',
    ]);
    for (const alert of alerts) {
      expect(['critical', 'warning']).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary).toBeTruthy();
      expect(alert.annotations?.description).toBeTruthy();
      const anchor = alert.annotations?.runbook_url?.match(/docs\/runbooks\.md#([a-z0-9-]+)$/)?.[1];
      expect(anchor, alert.alert).toBe(alert.alert.toLowerCase());
      expect(RUNBOOKS, `docs/runbooks.md has a section for ${alert.alert}`).toMatch(new RegExp(`^## ${alert.alert}$`, 'm'));
    }
  });

  it.skipIf(!hasPromtool)('the unit tests catch a broken rule', () => {
    const broken = prometheusRule.spec.groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => (r.alert === 'CryptoaggDataStale' ? { ...r, expr: r.expr.replace('15 * 60', '30 * 60') } : r)),
    }));
    const test = promtool(['test', 'rules', 'alerts.promtool.yaml'], broken);
    expect(test.status).not.toBe(0);
    expect(test.output).toContain('alertname: CryptoaggDataStale');
  });

  it.skipIf(!hasPromtool)('the unit tests catch rules that mix the namespaces (aggregations without `namespace`)', () => {
    const mixed = prometheusRule.spec.groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => ({
        ...r,
        expr: r.expr
          .replace(/by \(namespace\) /g, '')
          .replace(/by \(namespace, /g, 'by (')
          .replace(/ on \(namespace\)/g, ''),
      })),
    }));
    expect(mixed.flatMap((g) => g.rules).some((r) => r.expr.includes('namespace)'))).toBe(false);
    const test = promtool(['test', 'rules', 'alerts.promtool.yaml'], mixed);
    expect(test.status).not.toBe(0);
    for (const name of [
      'CryptoaggDataStale',
      'CryptoaggFetchFailing',
      'CryptoaggGatewayErrorRate',
      'CryptoaggHighLatency',
      'CryptoaggCacheUnavailable',
      'CryptoaggRedisMemoryHigh',
      'CryptoaggSourceFailing',
      'CryptoaggConsensusSpreadHigh',
      'CryptoaggRetentionBehind',
    ]) {
      expect(test.output).toContain(`alertname: ${name}`);
    }
  });

  it.skipIf(!hasPromtool)('the unit tests catch a pod alert that counts finished pods, and a Job alert that counts failures kept for a day', () => {
    const careless = prometheusRule.spec.groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => ({ ...r, expr: r.expr.replace(/\s+(unless|and) on \(namespace, (pod|job_name)\)[\s\S]*$/, '') })),
    }));
    const test = promtool(['test', 'rules', 'alerts.promtool.yaml'], careless);
    expect(test.status).not.toBe(0);
    expect(test.output).toContain('name: finished fetcher pods, ready pods and other namespaces do not fire');
    expect(test.output).toContain('name: a failed fetcher Job kept for a day stops firing after the hour');
  });

  it.skipIf(!hasPromtool)('the unit tests catch a retention alert that also fires while the fetcher itself fails', () => {
    const careless = prometheusRule.spec.groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => (r.alert === 'CryptoaggRetentionBehind' ? { ...r, expr: r.expr.replace(/\s+and on \(namespace\)[\s\S]*$/, '') } : r)),
    }));
    expect(careless.flatMap((g) => g.rules).find((r) => r.alert === 'CryptoaggRetentionBehind')?.expr).not.toContain('fetch');
    const test = promtool(['test', 'rules', 'alerts.promtool.yaml'], careless);
    expect(test.status).not.toBe(0);
    expect(test.output).toContain('name: a retention behind while the fetcher itself fails does not fire (CryptoaggDataStale does)');
  });

  it.skipIf(!hasPromtool)('promtool is the real one', () => {
    expect(execFileSync('promtool', ['--version'], { encoding: 'utf8' })).toMatch(/promtool, version 2\./);
  });
});
