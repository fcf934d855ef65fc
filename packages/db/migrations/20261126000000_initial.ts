import type { Knex } from 'knex';

/*
 * The history table is range-partitioned by the upstream's last_updated, one
 * partition a month: a year of 5-minute snapshots for 250 coins x 3 currencies
 * is ~79M rows, and monthly partitions keep each index small, let old months be
 * detached or dropped cheaply, and let a time-range query touch only the months
 * it needs. The primary key (coin, currency, last_updated) is the snapshot's
 * identity (re-fetching unchanged data adds nothing) and is also the index that
 * serves "one coin, one currency, a time range".
 *
 * Numbers are double precision: JSON numbers are IEEE doubles, PostgreSQL 12+
 * prints float8 in the shortest form that reads back to the same double, and
 * the pg driver parses it with parseFloat, so the API returns the upstream's
 * numbers bit for bit (see packages/db/test/roundtrip.test.ts). numeric would
 * cost more space and a string conversion on every read for no gain in fidelity.
 *
 * Coin ids compare byte-wise (collate "C"): the API orders ties by id, and
 * that order must not depend on the server's locale.
 *
 * quote_snapshots has no foreign key to coins: coins are upserted in the same
 * transaction first, and a per-row FK check would slow bulk ingest for nothing.
 */
const QUOTE_COLUMNS = `
  price double precision not null,
  market_cap double precision,
  total_volume double precision,
  high_24h double precision,
  low_24h double precision,
  price_change_24h double precision,
  price_change_percentage_24h double precision,
  circulating_supply double precision`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table coins (
      id text collate "C" primary key,
      symbol text not null,
      name text not null,
      image text,
      market_cap_rank integer,
      description text,
      homepage text,
      categories text[] not null default '{}',
      genesis_date date,
      metadata_refreshed_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index coins_rank_id_idx on coins (market_cap_rank asc nulls last, id);
    create index coins_metadata_refreshed_idx on coins (metadata_refreshed_at asc nulls first, id);

    create table latest_quotes (
      coin_id text collate "C" not null references coins (id) on delete cascade,
      currency text not null,
      last_updated timestamptz not null,
      fetched_at timestamptz not null,
      ${QUOTE_COLUMNS},
      primary key (coin_id, currency)
    );
    create index latest_quotes_currency_idx on latest_quotes (currency, coin_id);

    create table quote_snapshots (
      coin_id text collate "C" not null,
      currency text not null,
      last_updated timestamptz not null,
      fetched_at timestamptz not null,
      ${QUOTE_COLUMNS},
      primary key (coin_id, currency, last_updated)
    ) partition by range (last_updated);

    create table fetch_runs (
      id bigint generated always as identity primary key,
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      status text not null check (status in ('running', 'succeeded', 'failed')),
      currencies text[] not null,
      requests integer not null default 0,
      items_received integer not null default 0,
      items_skipped integer not null default 0,
      coins_updated integer not null default 0,
      snapshots_inserted integer not null default 0,
      metadata_updated integer not null default 0,
      metadata_skipped integer not null default 0,
      upstream_errors jsonb not null default '{}',
      error text
    );
    create index fetch_runs_status_finished_idx on fetch_runs (status, finished_at desc);
    create index fetch_runs_started_idx on fetch_runs (started_at desc);

    -- Creates the missing monthly partitions covering [from_ts, to_ts]; returns how many it made.
    create function ensure_quote_snapshot_partitions(from_ts timestamptz, to_ts timestamptz)
    returns integer language plpgsql as $$
    declare
      month_start timestamptz := date_trunc('month', from_ts at time zone 'UTC') at time zone 'UTC';
      partition_name text;
      created integer := 0;
    begin
      while month_start <= to_ts loop
        partition_name := format('quote_snapshots_%s', to_char(month_start at time zone 'UTC', 'YYYY_MM'));
        if to_regclass(partition_name) is null then
          execute format(
            'create table %I partition of quote_snapshots for values from (%L) to (%L)',
            partition_name, month_start, month_start + interval '1 month');
          created := created + 1;
        end if;
        month_start := month_start + interval '1 month';
      end loop;
      return created;
    end $$;

    select ensure_quote_snapshot_partitions(now() - interval '1 month', now() + interval '2 months');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop function if exists ensure_quote_snapshot_partitions(timestamptz, timestamptz);
    drop table if exists fetch_runs;
    drop table if exists quote_snapshots;
    drop table if exists latest_quotes;
    drop table if exists coins;
  `);
}
