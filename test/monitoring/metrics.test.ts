import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, parseConfig, REPO_ROOT } from '@cryptoagg/core';
import { coinsConfigSchema, startCoinsSubgraph } from '@cryptoagg/coins';
import { gatewayConfigSchema, startGateway } from '@cryptoagg/gateway';
import type { RunningService } from '@cryptoagg/http';
import { pricesConfigSchema, startPricesSubgraph } from '@cryptoagg/prices';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { dashboardExpressions, DASHBOARD_PATH, renderDashboard } from '@cryptoagg/dashboards';
import { METRIC_FAMILIES } from '@cryptoagg/metrics';
import { type Api, createTestDatabase, freePort, gql, metric, OPERATIONS, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { requireTool } from '@cryptoagg/testkit/tools';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';

/** Metrics that kube-state-metrics exports, not our services; the rules may use these. */
const KUBE_STATE_METRICS = ['kube_job_failed', 'kube_job_status_start_time', 'kube_pod_status_ready', 'kube_pod_status_phase'];
/**
 * Metrics of the redis_exporter sidecar (gitops/components/monitoring), as its
 * exporter/exporter.go names them (INFO used_memory, maxmemory,
 * aof_last_write_status, aof_last_bgrewrite_status; status 1 = ok).
 */
const REDIS_EXPORTER_METRICS = ['redis_memory_used_bytes', 'redis_memory_max_bytes', 'redis_aof_last_write_status', 'redis_aof_last_bgrewrite_status'];

const rules = parse(readFileSync(path.join(REPO_ROOT, 'gitops/components/alerts-and-dashboard/prometheus-rules.yaml'), 'utf8')) as {
  spec: { groups: { rules: { alert?: string; expr: string }[] }[] };
};
const ruleExpressions = rules.spec.groups.flatMap((g) => g.rules.map((r) => r.expr));

let fake: FakeCoinGecko;
let t: TestDatabase;
let api: Api;
const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-prometheus-'));

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('monitoring')]);
  const fetched = await runScript('jobs/fetcher/src/main.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: fake.url,
    COINGECKO_RATE_LIMIT_PER_MIN: '10000',
    FETCH_MAX_COINS: '20',
  });
  expect(fetched.code).toBe(0);
  const redisUrl = inject('redisUrl');
  api = await startApi({ DATABASE_URL: t.url, ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `monitoring-${Date.now()}:` } : {}) });
  // Traffic, so every family has samples: the contract operations through the gateway.
  for (const name of ['Markets', 'FetchStatus']) expect((await gql(api.url, OPERATIONS, {}, name)).errors).toBeUndefined();
});
afterAll(async () => {
  await api.stop();
  await Promise.all([fake.close(), t.destroy()]);
  rmSync(scratch, { recursive: true, force: true });
});

/** Every sample name a /metrics text can carry: counters and gauges by name, histograms with _bucket/_sum/_count. */
async function exportedNames(serviceUrl: string): Promise<Set<string>> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name!}${suffix}`);
  }
  return names;
}

const metricNames = (expr: string) => [...new Set(expr.match(/\b(?:cryptoagg|kube|redis)_[a-z0-9_]+/g) ?? [])];

describe('the dashboard and the alert rules use only metrics that exist', () => {
  it('the committed dashboard JSON is what the generator builds', () => {
    expect(readFileSync(DASHBOARD_PATH, 'utf8'), 'stale: run npm run dashboards').toBe(renderDashboard());
  });

  it('every metric in a PromQL expression is exported by a running service (or is kube-state-metrics)', async () => {
    const exported = new Set<string>();
    for (const service of [api.gateway, api.service('coins'), api.service('prices')]) for (const name of await exportedNames(service.url)) exported.add(name);
    const expressions = [...dashboardExpressions(), ...ruleExpressions];
    expect(expressions.length).toBeGreaterThan(20);
    const missing = expressions.flatMap((expr) =>
      metricNames(expr).filter((n) => !exported.has(n) && !KUBE_STATE_METRICS.includes(n) && !REDIS_EXPORTER_METRICS.includes(n)),
    );
    expect(missing).toEqual([]);
    // And the check itself can fail: a name no service exports is reported.
    expect(metricNames('rate(cryptoagg_not_a_metric_total[5m])').filter((n) => !exported.has(n))).toEqual(['cryptoagg_not_a_metric_total']);
  });

  it('every dashboard query is limited to the namespace picked in its `namespace` variable (dev and prod share one Prometheus)', () => {
    const dashboard = JSON.parse(renderDashboard()) as { uid: string; templating: { list: { name: string; query?: unknown }[] } };
    expect(dashboard.uid).toBe('crypto-aggregator');
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace']);
    const selectors = dashboardExpressions().flatMap((expr) =>
      [...expr.matchAll(/\b((?:cryptoagg|redis)_[a-z0-9_]+)(\{[^}]*\})?/g)].map((m) => ({ metric: m[1], matchers: m[2] ?? '' })),
    );
    expect(selectors.length).toBeGreaterThan(20);
    expect(selectors.filter((s) => !s.matchers.includes('namespace="$namespace"'))).toEqual([]);
  });

  it('the contract metrics are on every service', async () => {
    for (const service of [api.gateway, api.service('coins'), api.service('prices')]) {
      const names = await exportedNames(service.url);
      expect(names.has('cryptoagg_data_last_fetch_timestamp_seconds')).toBe(true);
      expect(names.has('cryptoagg_cache_requests_total')).toBe(true);
    }
  });
});

describe('every metric is defined once, in @cryptoagg/metrics', () => {
  it('the services export exactly the families it defines, each with its one type and help text', async () => {
    const exported = new Map<string, Set<string>>();
    for (const service of [api.gateway, api.service('coins'), api.service('prices')]) {
      const text = await (await fetch(`${service.url}/metrics`)).text();
      const types = new Map([...text.matchAll(/^# TYPE (cryptoagg_\S+) (\S+)$/gm)].map(([, name, type]) => [name!, type!]));
      for (const [, name, help] of text.matchAll(/^# HELP (cryptoagg_\S+) (.*)$/gm)) {
        exported.set(name!, (exported.get(name!) ?? new Set()).add(`${types.get(name!)}: ${help}`));
      }
    }
    const sorted = (entries: [string, string[]][]) => entries.sort(([a], [b]) => (a < b ? -1 : 1));
    expect(sorted([...exported].map(([name, definitions]) => [name, [...definitions]]))).toEqual(
      sorted(METRIC_FAMILIES.map((family) => [family.name, [`${family.kind}: ${family.help}`]])),
    );
  });
});

describe('METRICS_PORT, as Kubernetes sets it', () => {
  function parsed<T>(result: { ok: true; config: T } | { ok: false; errors: string[] }): T {
    if (!result.ok) throw new Error(result.errors.join('\n'));
    return result.config;
  }

  it('each service serves /metrics on its metrics port only, with the contract metrics, and GraphQL on its own port as before', async () => {
    const [coinsPort, coinsMetrics, pricesPort, pricesMetrics, gatewayPort, gatewayMetrics] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const common = { HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: t.url };
    const logger = createLogger('metrics-port', 'silent');
    const started: RunningService[] = [];
    try {
      const coins = await startCoinsSubgraph(
        parsed(parseConfig(coinsConfigSchema, { ...common, COINS_PORT: String(coinsPort), METRICS_PORT: String(coinsMetrics) })),
        logger,
      );
      started.push(coins);
      const prices = await startPricesSubgraph(
        parsed(parseConfig(pricesConfigSchema, { ...common, PRICES_PORT: String(pricesPort), METRICS_PORT: String(pricesMetrics) })),
        logger,
      );
      started.push(prices);
      const gateway = await startGateway(
        parsed(
          parseConfig(gatewayConfigSchema, {
            ...common,
            GATEWAY_PORT: String(gatewayPort),
            METRICS_PORT: String(gatewayMetrics),
            COINS_URL: `${coins.url}/graphql`,
            PRICES_URL: `${prices.url}/graphql`,
          }),
        ),
        logger,
      );
      started.push(gateway);
      expect((await gql(`${gateway.url}/graphql`, '{ fetchStatus { coinsUpdated } }')).data).toEqual({ fetchStatus: { coinsUpdated: 20 } });
      for (const [service, metricsPort] of [
        [gateway, gatewayMetrics],
        [coins, coinsMetrics],
        [prices, pricesMetrics],
      ] as const) {
        expect((await fetch(`${service.url}/metrics`)).status, service.url).toBe(404);
        expect(service.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}`);
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        expect(text).toContain('# TYPE cryptoagg_data_last_fetch_timestamp_seconds gauge');
        expect(text).toContain('# TYPE cryptoagg_cache_requests_total counter');
        expect((await fetch(`http://127.0.0.1:${metricsPort}/graphql`)).status).toBe(404);
      }
    } finally {
      for (const service of started.reverse()) await service.stop();
    }
  });
});

describe('request metrics', () => {
  it('count requests by operation and outcome at the gateway and in the subgraphs, unknown names as "other"', async () => {
    const sample = (operation: string, outcome: string) => `cryptoagg_graphql_request_duration_seconds_count{operation="${operation}",outcome="${outcome}"}`;
    const before = {
      markets: await metric(api.gateway.url, sample('Markets', 'success')),
      bad: await metric(api.gateway.url, sample('Markets', 'client_error')),
      other: await metric(api.gateway.url, sample('other', 'success')),
      prices: await metric(api.service('prices').url, sample('Markets', 'success')),
    };
    await gql(api.url, OPERATIONS, { first: 5 }, 'Markets');
    await gql(api.url, OPERATIONS, { first: 0 }, 'Markets');
    await gql(api.url, '{ fetchStatus { coinsUpdated } }');
    await gql(api.url, 'query SomethingElse { fetchStatus { coinsUpdated } }');
    expect(await metric(api.gateway.url, sample('Markets', 'success'))).toBe(before.markets + 1);
    expect(await metric(api.gateway.url, sample('Markets', 'client_error'))).toBe(before.bad + 1);
    expect(await metric(api.gateway.url, sample('other', 'success'))).toBe(before.other + 2);
    // The prices subgraph sees the planner's Markets__prices__0: counted as Markets.
    expect(await metric(api.service('prices').url, sample('Markets', 'success'))).toBe(before.prices + 1);
    const subgraphFetches = await metric(api.gateway.url, 'cryptoagg_subgraph_request_duration_seconds_count{subgraph="prices",outcome="success"}');
    expect(subgraphFetches).toBeGreaterThan(0);
  });
});

describe.skipIf(!requireTool('prometheus'))('a real Prometheus', () => {
  let prometheus: ChildProcess | undefined;
  afterAll(() => {
    prometheus?.kill('SIGKILL');
  });

  async function query(base: string, promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data.result;
  }

  it('scrapes the services and sees the freshness stored in the database; the shipped rules load healthy', async () => {
    const port = await freePort();
    const target = (url: string) => new URL(url).host;
    writeFileSync(path.join(scratch, 'rules.yaml'), stringify({ groups: rules.spec.groups }));
    writeFileSync(
      path.join(scratch, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: ['rules.yaml'],
        scrape_configs: (['gateway', 'coins', 'prices'] as const).map((job) => ({
          job_name: job,
          static_configs: [{ targets: [target(api.service(job).url)] }],
        })),
      }),
    );
    prometheus = spawn(
      'prometheus',
      [`--config.file=${path.join(scratch, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(scratch, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: 'ignore' },
    );
    const base = `http://127.0.0.1:${port}`;
    const [row] = await t.db('latest_quotes').max<{ max: Date }[]>('fetched_at as max');
    const stored = row!.max.getTime() / 1000;

    await expect
      .poll(async () => (await query(base, 'cryptoagg_data_last_fetch_timestamp_seconds').catch(() => [])).map((r) => r.metric.job).sort(), {
        timeout: 30_000,
        interval: 500,
      })
      .toEqual(['coins', 'gateway', 'prices']);
    for (const sample of await query(base, 'cryptoagg_data_last_fetch_timestamp_seconds')) {
      expect(Number(sample.value[1]), sample.metric.job).toBeCloseTo(stored, 3);
    }
    const upstream = await query(base, 'cryptoagg_fetch_last_run_items{kind="received"}');
    expect(upstream.map((r) => Number(r.value[1]))).toEqual([60]);

    const loaded = (await (await fetch(`${base}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string }[] }[] } };
    const health = loaded.data.groups.flatMap((g) => g.rules.map((r) => [r.name, r.health]));
    expect(health).toHaveLength(ruleExpressions.length);
    await expect
      .poll(
        async () => {
          const now = (await (await fetch(`${base}/api/v1/rules`)).json()) as typeof loaded;
          return now.data.groups.flatMap((g) => g.rules.map((r) => r.health)).every((h) => h === 'ok');
        },
        { timeout: 10_000, interval: 500 },
      )
      .toBe(true);
  });
});
