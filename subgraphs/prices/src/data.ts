import { QUOTE_COLUMNS, ROLLUP_TABLES, type Knex, type RollupInterval } from '@cryptoagg/db';
import { afterPosition, type Position } from '@cryptoagg/graphql';
import {
  HISTORY_COLUMNS,
  type CandleModel,
  type FetchStatusModel,
  type HistoryPointModel,
  type Interval,
  type MarketPage,
  type MarketRow,
  type QuoteModel,
} from './models.js';

/** The SQL of the prices subgraph: reads of quotes, snapshots, rollups and fetch runs, behind small named functions. */

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

/**
 * HOUR / DAY history: each UTC bucket's last snapshot (its close, with that snapshot's market cap and
 * volume), timed at the bucket's start, from the rollups that a trigger on quote_snapshots keeps in step
 * with every insert (packages/db/migrations/20261203130000_history_rollups.ts). A range read on the
 * rollup's primary key: a year of DAY is 365 rows of one index, instead of 365 probes of the raw table.
 * A bucket counts when its start lies in [from, to].
 */
async function rollupHistoryPoints(
  db: Knex,
  query: { coinId: string; currency: string; from: Date; to: Date; interval: RollupInterval },
  limit: number,
): Promise<HistoryPointModel[]> {
  return db(ROLLUP_TABLES[query.interval])
    .select<HistoryPointModel[]>('bucket as time', 'close as price', 'market_cap', 'total_volume')
    .where({ coin_id: query.coinId, currency: query.currency })
    .whereBetween('bucket', [query.from, query.to])
    .orderBy('bucket')
    .limit(limit);
}

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
  return rollupHistoryPoints(db, { coinId, currency, from, to, interval }, limit);
}

/**
 * Candles of one coin in one currency: one per UTC bucket with data whose start lies in [from, to],
 * in ascending time, at most `limit` of them, read from the same rollups as HOUR / DAY history.
 */
export async function candles(
  db: Knex,
  query: { coinId: string; currency: string; from: Date; to: Date; interval: RollupInterval },
  limit: number,
): Promise<CandleModel[]> {
  return db(ROLLUP_TABLES[query.interval])
    .select<CandleModel[]>('bucket as time', 'open', 'high', 'low', 'close', 'total_volume as volume', 'samples')
    .where({ coin_id: query.coinId, currency: query.currency })
    .whereBetween('bucket', [query.from, query.to])
    .orderBy('bucket')
    .limit(limit);
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

/** When the retention last left no partition past its bound (retention_status), or null before the first time. */
export async function retentionLastSuccess(db: Knex): Promise<Date | null> {
  const row = await db('retention_status').first<{ last_success_at: Date | null } | undefined>('last_success_at');
  return row?.last_success_at ?? null;
}

/** How many partitions the retention has dropped, by table (its durable record, retention_drops). */
export async function retentionDropCounts(db: Knex): Promise<Record<string, number>> {
  const rows = await db('retention_drops').select('table_name').count<{ table_name: string; count: number }[]>('* as count').groupBy('table_name');
  return Object.fromEntries(rows.map((r) => [r.table_name, Number(r.count)]));
}
