import { lastFetchedAt, type Knex } from '@cryptoagg/db';
import { Gauge, Histogram, type Registry } from 'prom-client';

/** cryptoagg_data_last_fetch_timestamp_seconds, read from Postgres at scrape time. */
export function registerFreshnessGauge(registry: Registry, db: Knex): void {
  new Gauge({
    name: 'cryptoagg_data_last_fetch_timestamp_seconds',
    help: 'When the newest stored snapshot was fetched from the upstream (Unix seconds; 0 while nothing is stored).',
    registers: [registry],
    async collect() {
      const at = await lastFetchedAt(db).catch(() => undefined);
      // Unknown (database down) leaves the last value rather than claiming "never".
      if (at !== undefined) this.set(at ? at.getTime() / 1000 : 0);
    },
  });
}

/** Counts and times every SQL statement a subgraph's pool runs (knex query events). */
export function instrumentDb(registry: Registry, db: Knex): void {
  const duration = new Histogram({
    name: 'cryptoagg_db_query_duration_seconds',
    help: 'Duration of SQL statements run for API requests, by outcome.',
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const started = new Map<string, number>();
  const finish = (uid: string, outcome: 'ok' | 'error') => {
    const at = started.get(uid);
    if (at === undefined) return;
    started.delete(uid);
    duration.observe({ outcome }, (performance.now() - at) / 1000);
  };
  db.on('query', (query: { __knexQueryUid: string }) => started.set(query.__knexQueryUid, performance.now()));
  db.on('query-response', (_response: unknown, query: { __knexQueryUid: string }) => finish(query.__knexQueryUid, 'ok'));
  db.on('query-error', (_error: unknown, query: { __knexQueryUid: string }) => finish(query.__knexQueryUid, 'error'));
}

/** cryptoagg_dataloader_batch_size{loader}: how many keys each DataLoader batch carried (N entities, one query). */
export function batchSizeHistogram(registry: Registry): Histogram<'loader'> {
  const existing = registry.getSingleMetric('cryptoagg_dataloader_batch_size') as Histogram<'loader'> | undefined;
  return (
    existing ??
    new Histogram({
      name: 'cryptoagg_dataloader_batch_size',
      help: 'Keys per DataLoader batch, by loader.',
      labelNames: ['loader'],
      buckets: [1, 2, 5, 10, 25, 50, 100, 250],
      registers: [registry],
    })
  );
}
