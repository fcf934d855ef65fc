import { Counter, Gauge, Histogram, type LabelValues, type Registry } from 'prom-client';

/**
 * Every metric family the services export, each defined here once (name, help, labels, buckets),
 * and the functions that give a process's registry its one instance of a family. The dashboard
 * (tools/dashboards) and the alert rules read these names; test/monitoring checks that the
 * services export exactly these families.
 */

interface Family<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
}

export interface CounterFamily<L extends string> extends Family<L> {
  kind: 'counter';
  /** label sets exported at 0 from the start, so that a rate over them exists before the first event */
  zeroes?: readonly LabelValues<L>[];
}

export interface HistogramFamily<L extends string> extends Family<L> {
  kind: 'histogram';
  buckets: readonly number[];
}

export interface GaugeFamily<L extends string> extends Family<L> {
  kind: 'gauge';
}

export type MetricFamily = CounterFamily<string> | HistogramFamily<string> | GaugeFamily<string>;

const counterFamily = <L extends string = never>(family: Omit<CounterFamily<L>, 'kind'>): CounterFamily<L> => ({ kind: 'counter', ...family });
const histogramFamily = <L extends string = never>(family: Omit<HistogramFamily<L>, 'kind'>): HistogramFamily<L> => ({ kind: 'histogram', ...family });
const gaugeFamily = <L extends string = never>(family: Omit<GaugeFamily<L>, 'kind'>): GaugeFamily<L> => ({ kind: 'gauge', ...family });

/** Request latencies, from a cached answer (about a millisecond) to a subgraph near its timeout. */
const REQUEST_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

// Data freshness and the fetcher

export const DATA_LAST_FETCH = gaugeFamily({
  name: 'cryptoagg_data_last_fetch_timestamp_seconds',
  help: 'When the newest stored snapshot was fetched from the upstream (Unix seconds; 0 while nothing is stored).',
  labelNames: [],
});

export const FETCH_LAST_SUCCESS = gaugeFamily({
  name: 'cryptoagg_fetch_last_success_timestamp_seconds',
  help: 'When the last successful fetcher run finished (Unix seconds; 0 before the first).',
  labelNames: [],
});

export const FETCH_LAST_RUN = gaugeFamily({
  name: 'cryptoagg_fetch_last_run_timestamp_seconds',
  help: 'When the last finished fetcher run started (Unix seconds).',
  labelNames: [],
});

export const FETCH_LAST_RUN_DURATION = gaugeFamily({
  name: 'cryptoagg_fetch_last_run_duration_seconds',
  help: 'How long the last finished fetcher run took.',
  labelNames: [],
});

export const FETCH_LAST_RUN_SUCCESS = gaugeFamily({
  name: 'cryptoagg_fetch_last_run_success',
  help: '1 when the last finished fetcher run succeeded, else 0.',
  labelNames: [],
});

export const FETCH_CONSECUTIVE_FAILURES = gaugeFamily({
  name: 'cryptoagg_fetch_consecutive_failures',
  help: 'Failed fetcher runs since the last successful one.',
  labelNames: [],
});

export const FETCH_LAST_RUN_ITEMS = gaugeFamily({
  name: 'cryptoagg_fetch_last_run_items',
  help: 'Items of the last finished fetcher run: received from the upstream, skipped as invalid, stored as new snapshots.',
  labelNames: ['kind'],
});

export const FETCH_LAST_RUN_UPSTREAM_ERRORS = gaugeFamily({
  name: 'cryptoagg_fetch_last_run_upstream_errors',
  help: 'Failed upstream requests of the last finished fetcher run, by HTTP status (or timeout / network).',
  labelNames: ['status'],
});

export const RETENTION_PARTITIONS_DROPPED = gaugeFamily({
  name: 'cryptoagg_retention_partitions_dropped',
  help: 'Monthly partitions the retention has dropped after fetcher runs, by table (quote_snapshots, quote_rollups_hourly), since the database was created.',
  labelNames: ['table'],
});

export const RETENTION_LAST_SUCCESS = gaugeFamily({
  name: 'cryptoagg_retention_last_success_timestamp_seconds',
  help: 'When the retention after a fetcher run last finished with no partition left past its bound (Unix seconds; 0 before the first time).',
  labelNames: [],
});

// The exchange sources and the consensus price (from the fetcher's durable source_runs and the stored quotes)

export const SOURCE_LAST_SUCCESS = gaugeFamily({
  name: 'cryptoagg_source_last_success_timestamp_seconds',
  help: 'When each exchange source (binance, coinbase, kraken) last stored its quotes (Unix seconds; 0 before the first time).',
  labelNames: ['source'],
});

export const SOURCE_LAST_RUN_SUCCESS = gaugeFamily({
  name: 'cryptoagg_source_last_run_success',
  help: "1 when the exchange source's latest finished attempt succeeded, else 0.",
  labelNames: ['source'],
});

export const SOURCE_CONSECUTIVE_FAILURES = gaugeFamily({
  name: 'cryptoagg_source_consecutive_failures',
  help: "The exchange source's failed attempts since its last success.",
  labelNames: ['source'],
});

export const SOURCE_LAST_RUN_QUOTES = gaugeFamily({
  name: 'cryptoagg_source_last_run_quotes',
  help: "Pairs of the exchange source's latest finished attempt: listed by the exchange, stored as quotes, skipped as unreadable.",
  labelNames: ['source', 'kind'],
});

export const SOURCE_LAST_RUN_UPSTREAM_ERRORS = gaugeFamily({
  name: 'cryptoagg_source_last_run_upstream_errors',
  help: "Failed requests of the exchange source's latest finished attempt, by HTTP status (or timeout / network / api-error / invalid).",
  labelNames: ['source', 'status'],
});

export const CONSENSUS_SPREAD = gaugeFamily({
  name: 'cryptoagg_consensus_spread_percent',
  help: 'Spread of the consensus price, (max - min) / price x 100 over the counted sources, of the top 20 coins by market-cap rank in each currency.',
  labelNames: ['coin', 'currency'],
});

export const CONSENSUS_SOURCES = gaugeFamily({
  name: 'cryptoagg_consensus_sources',
  help: 'Sources the consensus price counted (fresh, not outliers), of the top 20 coins by market-cap rank in each currency.',
  labelNames: ['coin', 'currency'],
});

export const CONSENSUS_OUTLIER_THRESHOLD = gaugeFamily({
  name: 'cryptoagg_consensus_outlier_threshold_percent',
  help: 'CONSENSUS_OUTLIER_PCT: a source further than this from the median is an outlier.',
  labelNames: [],
});

// The GraphQL API

export const GRAPHQL_REQUEST_DURATION = histogramFamily({
  name: 'cryptoagg_graphql_request_duration_seconds',
  help: 'Duration of GraphQL requests by operation (contract operations by name, the rest as "other") and outcome (success, client_error, error).',
  labelNames: ['operation', 'outcome'],
  buckets: REQUEST_SECONDS,
});

export const SUBGRAPH_REQUEST_DURATION = histogramFamily({
  name: 'cryptoagg_subgraph_request_duration_seconds',
  help: 'Duration of gateway requests to each subgraph, by outcome (success, graphql_error, error).',
  labelNames: ['subgraph', 'outcome'],
  buckets: REQUEST_SECONDS,
});

export const DATALOADER_BATCH_SIZE = histogramFamily({
  name: 'cryptoagg_dataloader_batch_size',
  help: 'Keys per DataLoader batch, by loader.',
  labelNames: ['loader'],
  buckets: [1, 2, 5, 10, 25, 50, 100, 250],
});

// Caches and the database

export const CACHE_REQUESTS = counterFamily({
  name: 'cryptoagg_cache_requests_total',
  help:
    'Cache lookups by result: hit, miss, or error (the cache unavailable or too slow; answered without it). ' +
    'A subgraph counts its data cache (Redis or in-process), the gateway its whole-response cache.',
  labelNames: ['result'],
  zeroes: [{ result: 'hit' }, { result: 'miss' }, { result: 'error' }],
});

export const CACHE_READ_DURATION = histogramFamily({
  name: 'cryptoagg_cache_read_duration_seconds',
  help: 'Duration of cache reads (one GET/MGET round trip to Redis, or an in-process lookup), failed ones included.',
  labelNames: ['backend'],
  buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
});

export const CACHE_MEMORY_BYTES = gaugeFamily({
  name: 'cryptoagg_cache_memory_bytes',
  help: 'Bytes held by the in-process cache (keys and JSON values at 2 bytes per UTF-16 unit plus a fixed cost per entry); 0 with Redis.',
  labelNames: [],
});

export const RESPONSE_CACHE_BYTES = gaugeFamily({
  name: 'cryptoagg_response_cache_bytes',
  help: 'Bytes held by the whole-response cache of the gateway or of a subgraph (answers of the current data version plus a fixed cost per entry).',
  labelNames: [],
});

export const RESPONSE_CACHE_ENTRIES = gaugeFamily({
  name: 'cryptoagg_response_cache_entries',
  help: 'Answers held by the whole-response cache of the gateway or of a subgraph (all of the current data version).',
  labelNames: [],
});

export const RESPONSE_CACHE_REQUESTS = counterFamily({
  name: 'cryptoagg_response_cache_requests_total',
  help:
    "Lookups in a subgraph's whole-response cache by result: hit (answered without executing) or miss (executed). " +
    'The gateway counts its own in cryptoagg_cache_requests_total.',
  labelNames: ['result'],
  zeroes: [{ result: 'hit' }, { result: 'miss' }],
});

export const DB_QUERY_DURATION = histogramFamily({
  name: 'cryptoagg_db_query_duration_seconds',
  help: 'Duration of SQL statements run for API requests, by outcome.',
  labelNames: ['outcome'],
  buckets: REQUEST_SECONDS.filter((seconds) => seconds <= 2.5),
});

/** Every family above: what the services export, no more and no less. */
export const METRIC_FAMILIES: readonly MetricFamily[] = [
  DATA_LAST_FETCH,
  FETCH_LAST_SUCCESS,
  FETCH_LAST_RUN,
  FETCH_LAST_RUN_DURATION,
  FETCH_LAST_RUN_SUCCESS,
  FETCH_CONSECUTIVE_FAILURES,
  FETCH_LAST_RUN_ITEMS,
  FETCH_LAST_RUN_UPSTREAM_ERRORS,
  RETENTION_PARTITIONS_DROPPED,
  RETENTION_LAST_SUCCESS,
  SOURCE_LAST_SUCCESS,
  SOURCE_LAST_RUN_SUCCESS,
  SOURCE_CONSECUTIVE_FAILURES,
  SOURCE_LAST_RUN_QUOTES,
  SOURCE_LAST_RUN_UPSTREAM_ERRORS,
  CONSENSUS_SPREAD,
  CONSENSUS_SOURCES,
  CONSENSUS_OUTLIER_THRESHOLD,
  GRAPHQL_REQUEST_DURATION,
  SUBGRAPH_REQUEST_DURATION,
  DATALOADER_BATCH_SIZE,
  CACHE_REQUESTS,
  CACHE_READ_DURATION,
  CACHE_MEMORY_BYTES,
  RESPONSE_CACHE_BYTES,
  RESPONSE_CACHE_ENTRIES,
  RESPONSE_CACHE_REQUESTS,
  DB_QUERY_DURATION,
];

/** The registry's instance of a family, when it has one; a name registered as another kind is a bug, said at once. */
function registered<M>(registry: Registry, family: MetricFamily, kind: abstract new (...args: never[]) => M): M | undefined {
  const existing = registry.getSingleMetric(family.name);
  if (existing === undefined) return undefined;
  if (!(existing instanceof kind)) throw new Error(`${family.name} is already registered as another kind of metric than a ${family.kind}`);
  return existing;
}

/** The registry's counter of this family: created on first use, shared by every later caller (several caches count into one). */
export function counter<L extends string>(registry: Registry, family: CounterFamily<L>): Counter<L> {
  const existing = registered<Counter<L>>(registry, family, Counter);
  if (existing) return existing;
  const created = new Counter<L>({ name: family.name, help: family.help, labelNames: family.labelNames, registers: [registry] });
  for (const labels of family.zeroes ?? []) created.inc(labels, 0);
  return created;
}

/** The registry's histogram of this family: created on first use, shared by every later caller. */
export function histogram<L extends string>(registry: Registry, family: HistogramFamily<L>): Histogram<L> {
  return (
    registered<Histogram<L>>(registry, family, Histogram) ??
    new Histogram<L>({ name: family.name, help: family.help, labelNames: family.labelNames, buckets: [...family.buckets], registers: [registry] })
  );
}

/**
 * A gauge read at scrape time by `collect`. It has one source, so a registry gets it once: a
 * second registration would leave one of two sources unread, and prom-client refuses it.
 */
export function gauge<L extends string>(registry: Registry, family: GaugeFamily<L>, collect: (gauge: Gauge<L>) => void | Promise<void>): Gauge<L> {
  return new Gauge<L>({
    name: family.name,
    help: family.help,
    labelNames: family.labelNames,
    registers: [registry],
    collect() {
      return collect(this);
    },
  });
}

const sums = new WeakMap<Registry, Map<string, Set<() => number>>>();

/**
 * The sources of a gauge that exports their sum at scrape time: several caches of one process (a
 * test starts many) each add their own size, and delete it when they close. Created on first use.
 */
export function summedGauge(registry: Registry, family: GaugeFamily<never>): Set<() => number> {
  const families = sums.get(registry) ?? new Map<string, Set<() => number>>();
  sums.set(registry, families);
  const known = families.get(family.name);
  if (known) return known;
  const sources = new Set<() => number>();
  families.set(family.name, sources);
  gauge(registry, family, (g) => g.set([...sources].reduce((total, source) => total + source(), 0)));
  return sources;
}

/** A moment as a timestamp gauge exports it: Unix seconds, and 0 for "never". */
export const timestampSeconds = (at: Date | null): number => (at ? at.getTime() / 1000 : 0);
