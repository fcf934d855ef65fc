import {
  CACHE_READ_DURATION,
  CACHE_REQUESTS,
  CONSENSUS_OUTLIER_THRESHOLD,
  CONSENSUS_SOURCES,
  CONSENSUS_SPREAD,
  DATALOADER_BATCH_SIZE,
  DATA_LAST_FETCH,
  DB_QUERY_DURATION,
  FETCH_CONSECUTIVE_FAILURES,
  FETCH_LAST_RUN_DURATION,
  FETCH_LAST_RUN_ITEMS,
  FETCH_LAST_RUN_SUCCESS,
  FETCH_LAST_RUN_UPSTREAM_ERRORS,
  FETCH_LAST_SUCCESS,
  GRAPHQL_REQUEST_DURATION,
  RETENTION_LAST_SUCCESS,
  RETENTION_PARTITIONS_DROPPED,
  SOURCE_CONSECUTIVE_FAILURES,
  SOURCE_LAST_RUN_QUOTES,
  SOURCE_LAST_RUN_SUCCESS,
  SOURCE_LAST_RUN_UPSTREAM_ERRORS,
  SOURCE_LAST_SUCCESS,
  SUBGRAPH_REQUEST_DURATION,
  type HistogramFamily,
  type MetricFamily,
} from '@cryptoagg/metrics';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

const RATE = '$__rate_interval';
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/**
 * A series selector limited to the namespace picked at the top of the
 * dashboard: dev and prod run side by side in one cluster and one Prometheus,
 * and an unfiltered sum or max would mix them.
 */
const m = (metric: MetricFamily | string, matchers = '') =>
  `${typeof metric === 'string' ? metric : metric.name}{namespace="$namespace"${matchers === '' ? '' : `, ${matchers}`}}`;

/** One of the series a histogram exports. */
const part = (histogram: HistogramFamily<string>, series: 'bucket' | 'count' | 'sum') => `${histogram.name}_${series}`;

const query = (expr: string, legend: string) => new DataqueryBuilder().expr(expr).legendFormat(legend).datasource(DATASOURCE);

function timeseries(title: string, description: string, unit: string, targets: [expr: string, legend: string][]) {
  const panel = new TimeseriesPanel().title(title).description(description).unit(unit).height(8).span(8).datasource(DATASOURCE);
  for (const [expr, legend] of targets) panel.withTarget(query(expr, legend));
  return panel;
}

function stat(title: string, description: string, unit: string, expr: string) {
  return new StatPanel().title(title).description(description).unit(unit).height(4).span(6).datasource(DATASOURCE).withTarget(query(expr, title));
}

/**
 * The operator's dashboard: data freshness and the fetcher first, then the
 * API (rate, latency, errors per operation, per subgraph), then cache and
 * storage. Every query uses only metrics the services (and the Redis exporter)
 * export (a test reads a live /metrics to prove it), and every query is limited
 * to the namespace chosen in the `namespace` variable: one dashboard (one uid)
 * serves every environment of the cluster.
 */
export function buildDashboard() {
  const dashboard = new DashboardBuilder('Crypto Aggregator')
    .uid('crypto-aggregator')
    .description('Freshness of the market data, the fetcher, the GraphQL API, the cache and the database.')
    .tags(['crypto-aggregator'])
    .timezone('utc')
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(new DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('namespace')
        .label('Namespace')
        .description('The environment: each namespace (cryptoagg-dev, cryptoagg-prod) runs its own aggregator.')
        .datasource(DATASOURCE)
        .query(`label_values(${DATA_LAST_FETCH.name}{job="gateway"}, namespace)`)
        .definition(`label_values(${DATA_LAST_FETCH.name}{job="gateway"}, namespace)`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalDesc),
    )
    .withRow(new RowBuilder('Data freshness and the fetcher'))
    .withPanel(stat('Data age', 'Time since the newest stored quote was received from the upstream.', 's', `time() - max(${m(DATA_LAST_FETCH)})`))
    .withPanel(stat('Since last successful run', 'Time since the last successful fetcher run finished.', 's', `time() - max(${m(FETCH_LAST_SUCCESS)})`))
    .withPanel(stat('Consecutive failed runs', 'Failed fetcher runs since the last successful one.', 'none', `max(${m(FETCH_CONSECUTIVE_FAILURES)})`))
    .withPanel(stat('Last run duration', 'How long the last finished fetcher run took.', 's', `max(${m(FETCH_LAST_RUN_DURATION)})`))
    .withPanel(
      timeseries('Fetch runs: items', 'Items of each finished run: received, skipped as invalid, stored as new snapshots.', 'none', [
        [`max by (kind) (${m(FETCH_LAST_RUN_ITEMS)})`, '{{kind}}'],
      ]),
    )
    .withPanel(
      timeseries('Fetch runs: result and upstream errors', 'Whether the last run succeeded (1) and its failed upstream requests by status.', 'none', [
        [`max(${m(FETCH_LAST_RUN_SUCCESS)})`, 'last run succeeded'],
        [`max by (status) (${m(FETCH_LAST_RUN_UPSTREAM_ERRORS)})`, 'upstream {{status}}'],
      ]),
    )
    .withPanel(
      timeseries('Data age over time', 'Age of the newest stored quote; the CryptoaggDataStale alert fires after 15 minutes without a successful run.', 's', [
        [`time() - max(${m(DATA_LAST_FETCH)})`, 'data age'],
      ]),
    )
    .withPanel(
      timeseries(
        'Retention',
        'Time since the retention after a fetcher run last left no partition past its bound; the CryptoaggRetentionBehind alert fires after a day while the fetcher succeeds.',
        's',
        [[`time() - max(${m(RETENTION_LAST_SUCCESS)})`, 'since the last success']],
      ),
    )
    .withPanel(
      timeseries('Retention: partitions dropped', 'Monthly partitions the retention has dropped, by table.', 'none', [
        [`max by (table) (${m(RETENTION_PARTITIONS_DROPPED)})`, '{{table}}'],
      ]),
    )
    .withRow(new RowBuilder('GraphQL API'))
    .withPanel(
      timeseries('Requests per operation', 'GraphQL requests per second at the gateway, by operation.', 'reqps', [
        [`sum by (operation) (rate(${m(part(GRAPHQL_REQUEST_DURATION, 'count'), 'job="gateway"')}[${RATE}]))`, '{{operation}}'],
      ]),
    )
    .withPanel(
      timeseries('Latency per operation (p50, p99)', 'Gateway request duration quantiles by operation.', 's', [
        [
          `histogram_quantile(0.5, sum by (le, operation) (rate(${m(part(GRAPHQL_REQUEST_DURATION, 'bucket'), 'job="gateway"')}[${RATE}])))`,
          'p50 {{operation}}',
        ],
        [
          `histogram_quantile(0.99, sum by (le, operation) (rate(${m(part(GRAPHQL_REQUEST_DURATION, 'bucket'), 'job="gateway"')}[${RATE}])))`,
          'p99 {{operation}}',
        ],
      ]),
    )
    .withPanel(
      timeseries('Errors per operation', 'Requests that did not succeed, by operation and outcome (client_error: bad input; error: server side).', 'reqps', [
        [
          `sum by (operation, outcome) (rate(${m(part(GRAPHQL_REQUEST_DURATION, 'count'), 'job="gateway", outcome!="success"')}[${RATE}]))`,
          '{{operation}} {{outcome}}',
        ],
      ]),
    )
    .withPanel(
      timeseries('Subgraph fetches (p99) and errors', "Latency of the gateway's requests to each subgraph, and failed ones.", 's', [
        [`histogram_quantile(0.99, sum by (le, subgraph) (rate(${m(part(SUBGRAPH_REQUEST_DURATION, 'bucket'))}[${RATE}])))`, 'p99 {{subgraph}}'],
        [
          `sum by (subgraph, outcome) (rate(${m(part(SUBGRAPH_REQUEST_DURATION, 'count'), 'outcome!="success"')}[${RATE}]))`,
          'failed/s {{subgraph}} {{outcome}}',
        ],
      ]),
    )
    .withRow(new RowBuilder('Cache and storage'))
    .withPanel(
      timeseries('Cache hit ratio', 'Share of cache lookups answered from the cache, per subgraph.', 'percentunit', [
        [`sum by (job) (rate(${m(CACHE_REQUESTS, 'result="hit"')}[${RATE}])) / sum by (job) (rate(${m(CACHE_REQUESTS)}[${RATE}]))`, '{{job}}'],
        [`sum by (job) (rate(${m(CACHE_REQUESTS, 'result="error"')}[${RATE}]))`, 'errors/s {{job}}'],
      ]),
    )
    .withPanel(
      timeseries('Redis and database latency (p99)', 'Cache reads (Redis round trips) and SQL statements run for requests.', 's', [
        [`histogram_quantile(0.99, sum by (le, job) (rate(${m(part(CACHE_READ_DURATION, 'bucket'))}[${RATE}])))`, 'cache read {{job}}'],
        [`histogram_quantile(0.99, sum by (le, job) (rate(${m(part(DB_QUERY_DURATION, 'bucket'))}[${RATE}])))`, 'SQL {{job}}'],
      ]),
    )
    .withPanel(
      timeseries('Redis memory', 'Memory Redis uses against its maxmemory; at the limit it evicts cache entries (CryptoaggRedisMemoryHigh at 90%).', 'bytes', [
        [`max(${m('redis_memory_used_bytes', 'job="redis"')})`, 'used'],
        [`max(${m('redis_memory_max_bytes', 'job="redis"')})`, 'maxmemory'],
      ]),
    )
    .withPanel(
      timeseries('DataLoader batch size', 'Average keys per batch: N entities answered by one query.', 'none', [
        [
          `sum by (loader) (rate(${m(part(DATALOADER_BATCH_SIZE, 'sum'))}[${RATE}])) / sum by (loader) (rate(${m(part(DATALOADER_BATCH_SIZE, 'count'))}[${RATE}]))`,
          '{{loader}}',
        ],
      ]),
    );
  return withSourceRows(dashboard).build();
}

/** The exchange sources the fetcher can read (EXCHANGE_SOURCES): a row each, whichever are configured. */
const EXCHANGE_SOURCES = ['binance', 'coinbase', 'kraken'] as const;

/** A row per exchange source (its health from the fetcher's source runs), then the consensus price of the top coins. */
function withSourceRows(dashboard: DashboardBuilder): DashboardBuilder {
  for (const source of EXCHANGE_SOURCES) {
    const only = `source="${source}"`;
    dashboard
      .withRow(new RowBuilder(`Source: ${source}`))
      .withPanel(
        stat(
          'Since last success',
          `Time since ${source}'s quotes were last stored (CryptoaggSourceFailing after 30 minutes of failures).`,
          's',
          `time() - max(${m(SOURCE_LAST_SUCCESS, only)})`,
        ),
      )
      .withPanel(
        stat('Consecutive failures', `Failed attempts to read ${source} since its last success.`, 'none', `max(${m(SOURCE_CONSECUTIVE_FAILURES, only)})`),
      )
      .withPanel(
        timeseries('Pairs', `Pairs of ${source}'s latest attempt: listed by the exchange, stored as quotes, skipped as unreadable.`, 'none', [
          [`max by (kind) (${m(SOURCE_LAST_RUN_QUOTES, only)})`, '{{kind}}'],
        ]),
      )
      .withPanel(
        timeseries('Result and upstream errors', `Whether ${source}'s latest attempt succeeded (1) and its failed requests by status.`, 'none', [
          [`max(${m(SOURCE_LAST_RUN_SUCCESS, only)})`, 'last attempt succeeded'],
          [`max by (status) (${m(SOURCE_LAST_RUN_UPSTREAM_ERRORS, only)})`, 'upstream {{status}}'],
        ]),
      );
  }
  return dashboard
    .withRow(new RowBuilder('Consensus price'))
    .withPanel(
      timeseries(
        'Consensus spread (top 20 coins)',
        'Spread of the counted sources per coin and currency, against the outlier threshold (CryptoaggConsensusSpreadHigh above it for 15 minutes).',
        'percent',
        [
          [`max by (coin, currency) (${m(CONSENSUS_SPREAD)})`, '{{coin}} {{currency}}'],
          [`max(${m(CONSENSUS_OUTLIER_THRESHOLD)})`, 'outlier threshold'],
        ],
      ),
    )
    .withPanel(
      timeseries('Sources counted (top 20 coins)', 'The fewest sources any top-20 coin counts in each currency: 1 means CoinGecko alone.', 'none', [
        [`min by (currency) (${m(CONSENSUS_SOURCES)})`, 'fewest, {{currency}}'],
      ]),
    );
}

/** Every PromQL expression of the dashboard, for the metric-name check. */
export function dashboardExpressions(): string[] {
  const panels = (buildDashboard().panels ?? []) as { targets?: { expr?: string }[] }[];
  return panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).filter((e) => e !== '');
}
