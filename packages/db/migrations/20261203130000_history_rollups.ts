import type { Knex } from 'knex';

/*
 * History at scale: hourly and daily rollups of quote_snapshots, retention by
 * whole partitions, and the backfill's bookkeeping.
 *
 * Rollups. One row per coin, currency and UTC bucket (an hour, a day): the
 * bucket's open (its first snapshot's price), high, low, close (its last
 * snapshot's price), the market cap and 24 h volume of its last snapshot, how
 * many snapshots it holds, and the times of its first and last snapshot. HOUR /
 * DAY history and candles read them instead of probing the raw table bucket by
 * bucket (bench/RESULTS.md: cold p95 30-37 ms at 26 million rows).
 *
 * They are maintained by a statement-level trigger on quote_snapshots that
 * merges exactly the rows a statement inserted (its transition table: rows an
 * ON CONFLICT DO NOTHING skipped are not in it) into their buckets, in the
 * inserting transaction: the fetcher's run, the backfill, or anything else that
 * inserts snapshots, so the rollups can never disagree with the snapshots they
 * summarise. The merge is commutative: open and close follow the snapshots'
 * last_updated, not the order they arrive in (a late snapshot, from a racing
 * run or the backfill, lands where it belongs), high/low are extremes and the
 * sample counts add up, so two transactions merging into one bucket at once
 * give the same row in either order. A trigger rather than a call in the
 * fetcher's writeRun because every writer of snapshots (including tests and
 * tools that insert rows directly) must keep the rollups whole.
 *
 * Buckets are fixed-length steps from a UTC midnight (date_bin), so they are
 * UTC hours and days whatever the session's TimeZone.
 *
 * quote_rollups_hourly is partitioned by month (UTC) like the snapshots:
 * ensure_quote_snapshot_partitions now creates the matching hourly partition
 * with each snapshot partition, so an insert always finds both, and retention
 * drops old hourly months whole. quote_rollups_daily (about 274,000 rows per
 * year at 250 coins x 3 currencies) is kept forever and needs no partitions.
 *
 * A truncate of quote_snapshots (test tooling) truncates the rollups with it;
 * retention drops snapshot partitions with DROP TABLE, which fires no trigger,
 * so the rollups outlive the snapshots they summarise.
 *
 * quote_snapshots.source tells the fetcher's snapshots from the backfill's
 * (a constant default: PostgreSQL adds the column without rewriting the table).
 *
 * retention_drops records every partition the retention dropped (the metric
 * `cryptoagg_retention_partitions_dropped` counts them, and the newest bound
 * per table is where the complete raw / hourly data starts: `npm run verify`
 * and the rollup rebuild stop there). backfill_progress records each finished
 * (coin, currency, days) task of `npm run backfill`, which is how it resumes.
 *
 * The upgrade builds the rollups of the snapshots already stored (one pass over
 * quote_snapshots, inside the migration's transaction).
 */

const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;
const ROLLUP_COLUMNS = 'coin_id, currency, bucket, open, high, low, close, market_cap, total_volume, samples, first_at, last_at';

/** The rollup rows of the snapshots in `source`, one per coin, currency and bucket. */
const aggregate = (source: string, bucket: string) => `
  select coin_id, currency, date_bin('${bucket}', last_updated, ${ORIGIN}) as bucket,
         (array_agg(price order by last_updated))[1] as open, max(price) as high, min(price) as low,
         (array_agg(price order by last_updated desc))[1] as close,
         (array_agg(market_cap order by last_updated desc))[1] as market_cap,
         (array_agg(total_volume order by last_updated desc))[1] as total_volume,
         count(*)::int as samples, min(last_updated) as first_at, max(last_updated) as last_at
    from ${source}
   group by 1, 2, 3`;

/** Merges `aggregate` rows into a rollup table: the bucket's first and last snapshot decide open and close. */
const merge = (table: string, source: string, bucket: string) => `
  insert into ${table} as r (${ROLLUP_COLUMNS})
  ${aggregate(source, bucket)}
  on conflict (coin_id, currency, bucket) do update set
    open = case when excluded.first_at < r.first_at then excluded.open else r.open end,
    high = greatest(r.high, excluded.high),
    low = least(r.low, excluded.low),
    close = case when excluded.last_at > r.last_at then excluded.close else r.close end,
    market_cap = case when excluded.last_at > r.last_at then excluded.market_cap else r.market_cap end,
    total_volume = case when excluded.last_at > r.last_at then excluded.total_volume else r.total_volume end,
    samples = r.samples + excluded.samples,
    first_at = least(r.first_at, excluded.first_at),
    last_at = greatest(r.last_at, excluded.last_at)`;

const ROLLUP_TABLE_COLUMNS = `
  coin_id text collate "C" not null,
  currency text not null,
  bucket timestamptz not null,
  open double precision not null,
  high double precision not null,
  low double precision not null,
  close double precision not null,
  market_cap double precision,
  total_volume double precision,
  samples integer not null check (samples > 0),
  first_at timestamptz not null,
  last_at timestamptz not null,
  primary key (coin_id, currency, bucket)`;

/** The monthly partition loop of 20261203100000_utc_partitions, for `parent`, as a function body. */
const monthlyPartitionLoop = (parent: string, extra = '') => `
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
        partition_name := format('${parent}_%s', to_char(month_start, 'YYYY_MM'));
        if to_regclass(partition_name) is null then
          execute format(
            'create table %I partition of ${parent} for values from (%L) to (%L)',
            partition_name,
            to_char(month_start, 'YYYY-MM-DD HH24:MI:SS') || '+00',
            to_char(month_start + interval '1 month', 'YYYY-MM-DD HH24:MI:SS') || '+00');
          created := created + 1;
        end if;
        month_start := month_start + interval '1 month';
      end loop;${extra}
      return created;
    end`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table quote_snapshots add column source text not null default 'fetcher';

    create table quote_rollups_hourly (${ROLLUP_TABLE_COLUMNS}) partition by range (bucket);
    create table quote_rollups_daily (${ROLLUP_TABLE_COLUMNS});

    -- Creates the missing monthly partitions of the hourly rollups covering [from_ts, to_ts]; returns how many it made.
    create function ensure_quote_rollup_partitions(from_ts timestamptz, to_ts timestamptz)
    returns integer language plpgsql as $$${monthlyPartitionLoop('quote_rollups_hourly')} $$;

    -- As before (UTC months, at most 120 at once), and the hourly rollups' partitions of the same months with them.
    create or replace function ensure_quote_snapshot_partitions(from_ts timestamptz, to_ts timestamptz)
    returns integer language plpgsql as $$${monthlyPartitionLoop('quote_snapshots', `\n      perform ensure_quote_rollup_partitions(from_ts, to_ts);`)} $$;

    create function quote_rollups_add() returns trigger language plpgsql as $$
    begin
      ${merge('quote_rollups_hourly', 'new_snapshots', '1 hour')};
      ${merge('quote_rollups_daily', 'new_snapshots', '24 hours')};
      return null;
    end $$;
    create trigger quote_snapshots_rollups after insert on quote_snapshots
      referencing new table as new_snapshots for each statement execute function quote_rollups_add();

    create function quote_rollups_truncate() returns trigger language plpgsql as $$
    begin
      truncate quote_rollups_hourly, quote_rollups_daily;
      return null;
    end $$;
    create trigger quote_snapshots_truncate_rollups after truncate on quote_snapshots
      for each statement execute function quote_rollups_truncate();

    create table retention_drops (
      id bigint generated always as identity primary key,
      table_name text not null,
      partition_name text not null,
      range_from timestamptz not null,
      range_to timestamptz not null,
      dropped_at timestamptz not null default now()
    );
    create index retention_drops_table_idx on retention_drops (table_name, range_to desc);

    create table backfill_progress (
      coin_id text collate "C" not null,
      currency text not null,
      days integer not null,
      points_received integer not null,
      points_stored integer not null,
      finished_at timestamptz not null default now(),
      primary key (coin_id, currency, days)
    );

    -- The hourly partitions of every month the snapshots already have, then the rollups of what is stored.
    select ensure_quote_rollup_partitions(m, m)
      from (select to_date(right(c.relname, 7), 'YYYY_MM')::timestamp at time zone 'UTC' as m
              from pg_inherits i join pg_class c on c.oid = i.inhrelid
             where i.inhparent = 'quote_snapshots'::regclass) months;
    insert into quote_rollups_hourly (${ROLLUP_COLUMNS}) ${aggregate('quote_snapshots', '1 hour')};
    insert into quote_rollups_daily (${ROLLUP_COLUMNS}) ${aggregate('quote_snapshots', '24 hours')};
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop trigger if exists quote_snapshots_rollups on quote_snapshots;
    drop trigger if exists quote_snapshots_truncate_rollups on quote_snapshots;
    drop function if exists quote_rollups_add();
    drop function if exists quote_rollups_truncate();
    create or replace function ensure_quote_snapshot_partitions(from_ts timestamptz, to_ts timestamptz)
    returns integer language plpgsql as $$${monthlyPartitionLoop('quote_snapshots')} $$;
    drop function if exists ensure_quote_rollup_partitions(timestamptz, timestamptz);
    drop table if exists backfill_progress;
    drop table if exists retention_drops;
    drop table if exists quote_rollups_daily;
    drop table if exists quote_rollups_hourly;
    alter table quote_snapshots drop column if exists source;
  `);
}
