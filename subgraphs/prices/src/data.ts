import { QUOTE_COLUMNS, type Knex } from '@cryptoagg/db';
import { afterPosition, type Position } from '@cryptoagg/graphql';
import { HISTORY_COLUMNS, type FetchStatusModel, type HistoryPointModel, type Interval, type MarketPage, type MarketRow, type QuoteModel } from './models.js';

/** The SQL of the prices subgraph: reads of quotes, snapshots and fetch runs, behind small named functions. */

/**
 * A page of the coins the newest successful run listed in `currency` (market_listings), in (rank nulls
 * last, id) order, each with its latest quote in that currency. A coin that left the upstream's top keeps
 * its latest quote (coin(id) still shows it) but is no longer listed.
 */
export async function marketsPage(db: Knex, currency: string, first: number, after: Position | undefined): Promise<MarketPage> {
  // Walks coins in rank order (coins_rank_id_idx) and probes the listing per coin, so a page reads about `first` rows.
  const page = db('coins as c')
    .join('market_listings as l', (on) => void on.on('l.coin_id', 'c.id').andOnVal('l.currency', currency))
    .join('latest_quotes as q', (on) => void on.on('q.coin_id', 'c.id').andOnVal('q.currency', currency))
    .select(...QUOTE_COLUMNS.map((column) => `q.${column}`), 'c.market_cap_rank');
  if (after) void page.whereRaw(...afterPosition(after, 'c.market_cap_rank', 'c.id'));
  const [rows, total] = await Promise.all([
    page.orderByRaw('c.market_cap_rank asc nulls last, c.id asc').limit(first + 1) as Promise<MarketRow[]>,
    // The listing alone (an index-only count): the run that lists a coin stores its coin row and latest quote
    // in the same transaction, and neither is ever deleted.
    db('market_listings').where({ currency }).count<{ count: number }[]>('* as count'),
  ]);
  return { totalCount: Number(total[0]?.count ?? 0), hasNextPage: rows.length > first, rows: rows.slice(0, first) };
}

export async function latestQuotes(db: Knex, currency: string, coinIds: readonly string[]): Promise<QuoteModel[]> {
  return db('latest_quotes')
    .select<QuoteModel[]>(...QUOTE_COLUMNS)
    .where('currency', currency)
    .whereIn('coin_id', [...coinIds]);
}

// Fixed-length steps: '1 day' added to a timestamptz follows the session's time zone (23 or 25 hours at DST changes).
const BUCKET: Record<Exclude<Interval, 'RAW'>, string> = { HOUR: '1 hour', DAY: '24 hours' };
// date_bin from a UTC midnight makes hour and day buckets UTC buckets.
const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;

/*
 * HOUR / DAY probe the primary key once per bucket: for each bucket start b,
 * the newest snapshot with b <= last_updated < b + bucket (a backward index
 * scan, LIMIT 1, one partition), over the buckets between the coin's first and
 * last snapshot in the range. A year of DAY is 365 short index descents instead
 * of reading and sorting ~105,000 rows with DISTINCT ON (126 ms -> 11 ms at p95
 * on 26 million rows, bench/RESULTS.md). Prototyped and checked for identical
 * answers in bench/lib/history-previous.ts.
 */
const BUCKETED_SQL = `
select b.time, ${HISTORY_COLUMNS.map((column) => `s.${column}`).join(', ')}
  from (select date_bin(:bucket::interval, :from::timestamptz, ${ORIGIN}) as first_bucket,
               date_bin(:bucket::interval, :to::timestamptz, ${ORIGIN}) as last_bucket) r
  cross join lateral (
    select min(last_updated) as first_at, max(last_updated) as last_at
      from quote_snapshots
     where coin_id = :coinId and currency = :currency
       and last_updated >= r.first_bucket and last_updated < r.last_bucket + :bucket::interval) extent
  cross join lateral generate_series(date_bin(:bucket::interval, extent.first_at, ${ORIGIN}),
                                     date_bin(:bucket::interval, extent.last_at, ${ORIGIN}),
                                     :bucket::interval) as b(time)
  cross join lateral (
    select ${HISTORY_COLUMNS.join(', ')}
      from quote_snapshots
     where coin_id = :coinId and currency = :currency
       and last_updated >= b.time and last_updated < b.time + :bucket::interval
     order by last_updated desc
     limit 1) s
 where b.time between :from::timestamptz and :to::timestamptz
 order by b.time
 limit :limit`;

/**
 * History points of one coin in one currency with from <= time <= to, at most
 * `limit` of them. RAW: every snapshot, timed by its last_updated. HOUR / DAY:
 * one point per UTC bucket that has data, the bucket's last snapshot, timed at
 * the bucket's start; a bucket counts when its start lies in [from, to].
 */
export async function historyPoints(
  db: Knex,
  query: { coinId: string; currency: string; from: Date; to: Date; interval: Interval },
  limit: number,
): Promise<HistoryPointModel[]> {
  const { coinId, currency, from, to, interval } = query;
  if (interval === 'RAW') {
    return db('quote_snapshots')
      .select<HistoryPointModel[]>('last_updated as time', ...HISTORY_COLUMNS)
      .where({ coin_id: coinId, currency })
      .whereBetween('last_updated', [from, to])
      .orderBy('last_updated')
      .limit(limit);
  }
  const { rows } = await db.raw<{ rows: HistoryPointModel[] }>(BUCKETED_SQL, { bucket: BUCKET[interval], from, to, coinId, currency, limit });
  return rows;
}

export async function fetchStatus(db: Knex): Promise<FetchStatusModel> {
  const { rows } = await db.raw<{ rows: FetchStatusModel[] }>(
    `select (select max(finished_at) from fetch_runs where status = 'succeeded') as last_success_at,
            (select max(started_at) from fetch_runs) as last_attempt_at,
            coalesce((select coins_updated from fetch_runs where status = 'succeeded'
                       order by finished_at desc limit 1), 0) as coins_updated,
            (select max(fetched_at) from latest_quotes) as last_fetched_at`,
  );
  const [status] = rows;
  if (!status) throw new Error('fetch status query returned no row');
  return status;
}

export interface RunStats {
  last_success_at: Date | null;
  last_started_at: Date | null;
  last_finished_at: Date | null;
  last_status: string | null;
  last_items_received: number;
  last_items_skipped: number;
  last_snapshots_inserted: number;
  last_upstream_errors: Record<string, number>;
  consecutive_failures: number;
}

/** The fetcher's durable run records, summarised for the metrics (a CronJob pod lives too briefly to be scraped). */
export async function fetchRunStats(db: Knex): Promise<RunStats> {
  const { rows } = await db.raw<{ rows: RunStats[] }>(
    `with last_run as (select * from fetch_runs where status <> 'running' order by id desc limit 1),
          last_success as (select max(finished_at) as at from fetch_runs where status = 'succeeded')
     select (select at from last_success) as last_success_at,
            last_run.started_at as last_started_at, last_run.finished_at as last_finished_at, last_run.status as last_status,
            coalesce(last_run.items_received, 0) as last_items_received, coalesce(last_run.items_skipped, 0) as last_items_skipped,
            coalesce(last_run.snapshots_inserted, 0) as last_snapshots_inserted,
            coalesce(last_run.upstream_errors, '{}'::jsonb) as last_upstream_errors,
            (select count(*) from fetch_runs f where f.status = 'failed'
                and f.id > coalesce((select max(id) from fetch_runs where status = 'succeeded'), 0))::int as consecutive_failures
       from (select 1) one left join last_run on true`,
  );
  const [stats] = rows;
  if (!stats) throw new Error('fetch run stats query returned no row');
  return stats;
}
