import { lastFetchedAt, type Knex } from '@cryptoagg/db';
import { Gauge, type Registry } from 'prom-client';

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
