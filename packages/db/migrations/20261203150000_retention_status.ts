import type { Knex } from 'knex';

/*
 * retention_status: one row, what the retention's last run after a fetcher run
 * found (jobs/fetcher/src/retention.ts). The retention never fails the run that
 * triggers it (the data is stored), so without a record a retention that
 * throws, or cannot get its locks, would only show in the logs while the raw
 * partitions pile up. The prices subgraph exports last_success_at as
 * cryptoagg_retention_last_success_timestamp_seconds (the CryptoaggRetentionBehind
 * alert), and `npm run verify` reads the policy the fetcher last ran with.
 *
 * last_success_at: the last run that left no partition past its bound.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table retention_status (
      id boolean primary key default true check (id),
      last_run_at timestamptz not null,
      last_success_at timestamptz,
      raw_days integer not null,
      hourly_days integer not null,
      last_error text
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists retention_status');
}
