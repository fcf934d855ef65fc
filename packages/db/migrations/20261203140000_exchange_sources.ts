import type { Knex } from 'knex';

/*
 * Exchange sources beside CoinGecko (Binance, Coinbase Exchange, Kraken): what
 * each run read from them, and the evidence the consensus price is computed
 * from at read time by the prices subgraph.
 *
 * source_quotes is the history: one row per exchange pair and fetch, keyed
 * (source, pair, time) where time is when the fetcher received the ticker,
 * range-partitioned by month (UTC) on that time like quote_snapshots, so old
 * months are dropped whole. Each row carries the coin and currency the pair
 * was mapped to at fetch time and its price already converted to that currency
 * (a USDT pair times tether's stored usd price), beside the price as the
 * exchange quoted it and the quote asset, so a conversion can be checked later.
 *
 * latest_source_quotes holds each source's newest successful run: the pairs it
 * mapped, keyed (source, pair), indexed by (coin, currency) for the API's
 * "every source's evidence for these coins in this currency" (one index scan
 * per page of quotes). A source's successful run replaces its rows (a pair that
 * halted or left the exchange disappears); a failed run keeps them, and their
 * age shows they are stale.
 *
 * source_runs records every source's attempt within a fetch run, like
 * fetch_runs for CoinGecko. `version` is drawn from fetch_runs' id sequence when
 * a source commits its quotes: the data version the API caches are keyed by is
 * the newest committed write of either kind (the same sequence, so one number
 * orders both), and a source that finishes after the CoinGecko part of its run
 * still moves it. Commits of sources are serialised (lock on
 * latest_source_quotes) and take their number under that lock, so commit order
 * and version order agree.
 *
 * Coin ids compare byte-wise (collate "C") as everywhere; no foreign keys, as
 * for latest_quotes (coins are written by the CoinGecko part, and tooling
 * truncates coins without knowing these tables).
 */
const QUOTE_COLUMNS = `
  source text not null,
  pair text not null,
  time timestamptz not null,
  coin_id text collate "C" not null,
  currency text not null,
  price double precision not null,
  quote_asset text not null,
  quote_price double precision not null,
  volume double precision`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table source_runs (
      id bigint generated always as identity primary key,
      fetch_run_id bigint not null,
      source text not null,
      status text not null check (status in ('running', 'succeeded', 'failed')),
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      requests integer not null default 0,
      pairs_listed integer not null default 0,
      items_skipped integer not null default 0,
      quotes_stored integer not null default 0,
      upstream_errors jsonb not null default '{}',
      error text,
      version bigint
    );
    create index source_runs_source_idx on source_runs (source, id desc);
    create index source_runs_fetch_run_idx on source_runs (fetch_run_id);

    create table source_quotes (${QUOTE_COLUMNS},
      primary key (source, pair, time)
    ) partition by range (time);

    create table latest_source_quotes (${QUOTE_COLUMNS},
      primary key (source, pair)
    );
    create index latest_source_quotes_coin_idx on latest_source_quotes (coin_id, currency);

    -- The monthly partitions (UTC months) of source_quotes covering [from_ts, to_ts], as
    -- ensure_quote_snapshot_partitions does for quote_snapshots (UTC arithmetic, at most 120 months at once).
    create function ensure_source_quote_partitions(from_ts timestamptz, to_ts timestamptz)
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
        partition_name := format('source_quotes_%s', to_char(month_start, 'YYYY_MM'));
        if to_regclass(partition_name) is null then
          execute format(
            'create table %I partition of source_quotes for values from (%L) to (%L)',
            partition_name,
            to_char(month_start, 'YYYY-MM-DD HH24:MI:SS') || '+00',
            to_char(month_start + interval '1 month', 'YYYY-MM-DD HH24:MI:SS') || '+00');
          created := created + 1;
        end if;
        month_start := month_start + interval '1 month';
      end loop;
      return created;
    end $$;

    select ensure_source_quote_partitions(now() - interval '1 month', now() + interval '2 months');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop function if exists ensure_source_quote_partitions(timestamptz, timestamptz);
    drop table if exists latest_source_quotes;
    drop table if exists source_quotes;
    drop table if exists source_runs;
  `);
}
