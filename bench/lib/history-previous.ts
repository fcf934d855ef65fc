import type { Knex } from '@cryptoagg/db';
import { historyPoints } from '../../subgraphs/prices/src/data.js';
import type { HistoryPointModel, Interval } from '../../subgraphs/prices/src/models.js';

/**
 * The history SQL the product used before, kept to measure old against new
 * (bench/history.ts).
 *
 * The per-bucket primary-key probe for HOUR and DAY was tried here first and
 * has since been adopted by the product (subgraphs/prices/src/data.ts,
 * commit 841a94a). What this file keeps is the SQL it replaced: DISTINCT ON
 * over every snapshot of the range (a year of DAY reads and sorts ~105,000
 * rows of one coin), verbatim, as the reference the benchmark times the
 * product against and checks its answers with (same points, same values, on
 * the benchmark's ranges and on edge cases). Never used by the product.
 */

const BUCKET: Record<Exclude<Interval, 'RAW'>, string> = { HOUR: '1 hour', DAY: '1 day' };
const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;

export const DISTINCT_ON_SQL = `select time, price, market_cap, total_volume from (
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

/** The product's historyPoints as it was before 841a94a (RAW is unchanged: the product's query). */
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
