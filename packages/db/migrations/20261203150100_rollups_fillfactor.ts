import type { Knex } from 'knex';

/*
 * Fillfactor 50 on the rollups. Every fetch run updates the current hour's and
 * day's row of each coin and currency (the trigger of
 * 20261203130000_history_rollups): at the default fillfactor (100) the pages
 * are full, so each update writes its new version to another page and a new
 * index entry, and the dead versions pile up between vacuums (a day's row is
 * updated 288 times). With half of each page free the updates are HOT (same
 * page, no index entry) and page pruning reclaims the old versions without a
 * vacuum. bench/history.ts measured the fetcher's writeRun of 15,000 quotes,
 * runs 5 minutes apart: see bench/RESULTS.md (History, store time).
 *
 * A partitioned table has no storage parameters of its own: the hourly
 * rollups' partitions get it one by one, and ensure_quote_rollup_partitions
 * creates new ones with it. Pages already written keep their rows until they
 * are rewritten; new pages are half filled.
 */

const FILLFACTOR = 50;

/** ensure_quote_rollup_partitions as 20261203130000_history_rollups made it, new partitions `with (fillfactor = n)` (null: without). */
const ensurePartitions = (fillfactor: number | null) => `
  create or replace function ensure_quote_rollup_partitions(from_ts timestamptz, to_ts timestamptz)
  returns integer language plpgsql as $$
    declare
      month_start timestamp := date_trunc('month', from_ts at time zone 'UTC');
      last_month timestamp := date_trunc('month', to_ts at time zone 'UTC');
      partition_name text;
      created integer := 0;
    begin
      if last_month >= month_start + interval '120 months' then
        raise exception 'refusing to create the monthly partitions from % to %: more than 120 months at once', from_ts, to_ts;
      end if;
      while month_start <= last_month loop
        partition_name := format('quote_rollups_hourly_%s', to_char(month_start, 'YYYY_MM'));
        if to_regclass(partition_name) is null then
          execute format(
            'create table %I partition of quote_rollups_hourly for values from (%L) to (%L)${fillfactor === null ? '' : ` with (fillfactor = ${fillfactor})`}',
            partition_name,
            to_char(month_start, 'YYYY-MM-DD HH24:MI:SS') || '+00',
            to_char(month_start + interval '1 month', 'YYYY-MM-DD HH24:MI:SS') || '+00');
          created := created + 1;
        end if;
        month_start := month_start + interval '1 month';
      end loop;
      return created;
    end $$`;

/** `alter table ... set/reset (fillfactor)` of the daily rollups and every hourly partition. */
const setFillfactor = (fillfactor: number | null) => `
  do $$
  declare
    t text;
  begin
    for t in select 'quote_rollups_daily'
             union all
             select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'quote_rollups_hourly'::regclass
    loop
      execute format('alter table %I ${fillfactor === null ? 'reset (fillfactor)' : `set (fillfactor = ${fillfactor})`}', t);
    end loop;
  end $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(ensurePartitions(FILLFACTOR));
  await knex.raw(setFillfactor(FILLFACTOR));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(ensurePartitions(null));
  await knex.raw(setFillfactor(null));
}
