import type { Knex } from '@cryptoagg/db';
import { Gauge, type Registry } from 'prom-client';
import { fetchRunStats, type RunStats } from './data.js';

const seconds = (at: Date | null) => (at ? at.getTime() / 1000 : 0);

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
  const gauge = (name: string, help: string, read: (s: RunStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const s = await stats();
        if (s) this.set(read(s));
      },
    });
  gauge('cryptoagg_fetch_last_success_timestamp_seconds', 'When the last successful fetcher run finished (Unix seconds; 0 before the first).', (s) => seconds(s.last_success_at));
  gauge('cryptoagg_fetch_last_run_timestamp_seconds', 'When the last finished fetcher run started (Unix seconds).', (s) => seconds(s.last_started_at));
  gauge('cryptoagg_fetch_last_run_duration_seconds', 'How long the last finished fetcher run took.', (s) =>
    s.last_started_at && s.last_finished_at ? (s.last_finished_at.getTime() - s.last_started_at.getTime()) / 1000 : 0,
  );
  gauge('cryptoagg_fetch_last_run_success', '1 when the last finished fetcher run succeeded, else 0.', (s) => (s.last_status === 'succeeded' ? 1 : 0));
  gauge('cryptoagg_fetch_consecutive_failures', 'Failed fetcher runs since the last successful one.', (s) => s.consecutive_failures);
  new Gauge({
    name: 'cryptoagg_fetch_last_run_items',
    help: 'Items of the last finished fetcher run: received from the upstream, skipped as invalid, stored as new snapshots.',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      const s = await stats();
      if (!s) return;
      this.set({ kind: 'received' }, s.last_items_received);
      this.set({ kind: 'skipped' }, s.last_items_skipped);
      this.set({ kind: 'stored' }, s.last_snapshots_inserted);
    },
  });
  new Gauge({
    name: 'cryptoagg_fetch_last_run_upstream_errors',
    help: 'Failed upstream requests of the last finished fetcher run, by HTTP status (or timeout / network).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const s = await stats();
      if (!s) return;
      this.reset();
      for (const [status, count] of Object.entries(s.last_upstream_errors)) this.set({ status }, count);
    },
  });
}
