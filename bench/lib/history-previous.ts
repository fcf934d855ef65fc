import type { Knex } from '@cryptoagg/db';
import { historyPoints } from '../../subgraphs/prices/src/data.js';
import type { HistoryPointModel, Interval } from '../../subgraphs/prices/src/models.js';

/**
 * HOUR / DAY history computed from the raw snapshots, kept as the reference
 * the history benchmark (bench/history.ts) checks the product's answers with.
 *
 * The product read the raw table twice before: DISTINCT ON over every snapshot
 * of the range (below, verbatim; a year of DAY read and sorted ~105,000 rows of
 * one coin), then one primary-key probe per bucket (commit 841a94a). It now
 * reads the hourly and daily rollups a trigger keeps
 * (subgraphs/prices/src/data.ts); their answers must equal this query's on the
 * same snapshots: each bucket's last snapshot, timed at the bucket's start.
 * Never used by the product.
 */

const BUCKET: Record<Exclude<Interval, 'RAW'>, string> = { HOUR: '1 hour', DAY: '1 day' };
const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;

const DISTINCT_ON_SQL = `select time, price, market_cap, total_volume from (
       select distinct on (bucket) bucket as time, price, market_cap, total_volume
         from (select date_bin(?::interval, last_updated, ${ORIGIN}) as bucket, last_updated, price, market_cap, total_volume
                 from quote_snapshots
                where coin_id = ? and currency = ?
                  and last_updated >= date_bin(?::interval, ?::timestamptz, ${ORIGIN})
                  and last_updated < date_bin(?::interval, ?::timestamptz, ${ORIGIN}) + ?::interval) snapshots
        order by bucket, last_updated desc) buckets
      where time between ? and ?
      order by time
      limit ?`;

/** History as the product computed it before 841a94a, from the raw snapshots (RAW: the product's query). */
export async function historyPointsDistinctOn(
  db: Knex,
  query: { coinId: string; currency: string; from: Date; to: Date; interval: Interval },
  limit: number,
): Promise<HistoryPointModel[]> {
  const { coinId, currency, from, to, interval } = query;
  if (interval === 'RAW') return historyPoints(db, query, limit);
  const bucket = BUCKET[interval];
  const { rows } = await db.raw<{ rows: HistoryPointModel[] }>(DISTINCT_ON_SQL, [bucket, coinId, currency, bucket, from, bucket, to, bucket, from, to, limit]);
  return rows;
}
