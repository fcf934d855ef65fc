import { lastFetchedAt, type Knex } from '@cryptoagg/db';
import { DATA_LAST_FETCH, DB_QUERY_DURATION, gauge, histogram, timestampSeconds } from '@cryptoagg/metrics';
import type { Registry } from 'prom-client';

/** The data's freshness, read from Postgres at scrape time. */
export function registerFreshnessGauge(registry: Registry, db: Knex): void {
  gauge(registry, DATA_LAST_FETCH, async (freshness) => {
    const at = await lastFetchedAt(db).catch(() => undefined);
    // Unknown (database down) leaves the last value rather than claiming "never".
    if (at !== undefined) freshness.set(timestampSeconds(at));
  });
}

/** Counts and times every SQL statement a subgraph's pool runs (knex query events). */
export function instrumentDb(registry: Registry, db: Knex): void {
  const duration = histogram(registry, DB_QUERY_DURATION);
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
