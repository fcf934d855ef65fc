import { RETENTION_TABLES, type Knex } from '@cryptoagg/db';
import {
  FETCH_CONSECUTIVE_FAILURES,
  FETCH_LAST_RUN,
  FETCH_LAST_RUN_DURATION,
  FETCH_LAST_RUN_ITEMS,
  FETCH_LAST_RUN_SUCCESS,
  FETCH_LAST_RUN_UPSTREAM_ERRORS,
  FETCH_LAST_SUCCESS,
  gauge,
  RETENTION_LAST_SUCCESS,
  RETENTION_PARTITIONS_DROPPED,
  timestampSeconds,
  type GaugeFamily,
} from '@cryptoagg/metrics';
import type { Registry } from 'prom-client';
import { fetchRunStats, retentionDropCounts, retentionLastSuccess, type RunStats } from './data.js';

/**
 * The fetcher's health as gauges, read from its run records at scrape time:
 * the CronJob's pods live seconds, so the prices subgraph, which is always up,
 * exports them (no Pushgateway needed: the records are durable already).
 */
export function registerFetchRunMetrics(registry: Registry, db: Knex): void {
  let pending: Promise<RunStats | undefined> | undefined;
  // One query per scrape, shared by every gauge's collect().
  const stats = () => {
    pending ??= fetchRunStats(db)
      .catch(() => undefined)
      .finally(() => setTimeout(() => (pending = undefined), 1_000).unref());
    return pending;
  };
  const single = (family: GaugeFamily<never>, read: (s: RunStats) => number) =>
    gauge(registry, family, async (g) => {
      const s = await stats();
      if (s) g.set(read(s));
    });
  single(FETCH_LAST_SUCCESS, (s) => timestampSeconds(s.last_success_at));
  single(FETCH_LAST_RUN, (s) => timestampSeconds(s.last_started_at));
  single(FETCH_LAST_RUN_DURATION, (s) => (s.last_started_at && s.last_finished_at ? (s.last_finished_at.getTime() - s.last_started_at.getTime()) / 1000 : 0));
  single(FETCH_LAST_RUN_SUCCESS, (s) => (s.last_status === 'succeeded' ? 1 : 0));
  single(FETCH_CONSECUTIVE_FAILURES, (s) => s.consecutive_failures);
  gauge(registry, FETCH_LAST_RUN_ITEMS, async (g) => {
    const s = await stats();
    if (!s) return;
    g.set({ kind: 'received' }, s.last_items_received);
    g.set({ kind: 'skipped' }, s.last_items_skipped);
    g.set({ kind: 'stored' }, s.last_snapshots_inserted);
  });
  gauge(registry, FETCH_LAST_RUN_UPSTREAM_ERRORS, async (g) => {
    const s = await stats();
    if (!s) return;
    g.reset();
    for (const [status, count] of Object.entries(s.last_upstream_errors)) g.set({ status }, count);
  });
  // Both tables from the start (0 before the first drop), so an increase() over them exists.
  gauge(registry, RETENTION_PARTITIONS_DROPPED, async (g) => {
    const counts = await retentionDropCounts(db).catch(() => undefined);
    if (!counts) return;
    for (const table of RETENTION_TABLES) g.set({ table }, counts[table] ?? 0);
  });
  gauge(registry, RETENTION_LAST_SUCCESS, async (g) => {
    const at = await retentionLastSuccess(db).catch(() => undefined);
    if (at !== undefined) g.set(timestampSeconds(at));
  });
}
