import { ROLLUP_TABLES, type Knex, type RollupInterval } from '@cryptoagg/db';
import { completeSince, partitionsOf } from './retention.js';

/**
 * The hourly and daily rollups of quote_snapshots, seen from the fetcher's
 * side: a trigger on quote_snapshots maintains them with every insert
 * (packages/db/migrations/20261203130000_history_rollups.ts); here they are
 * recomputed from the snapshots (`npm run rollups -- rebuild`) and compared
 * with them (`npm run verify`, `npm run rollups -- verify`).
 *
 * Both only look at buckets from where the snapshots are complete: before the
 * newest partition the retention dropped, the rollups are all that is left of
 * the snapshots they summarise.
 */

const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;
const BUCKET: Record<RollupInterval, string> = { HOUR: '1 hour', DAY: '24 hours' };
const ROLLUP_COLUMNS = [
  'coin_id',
  'currency',
  'bucket',
  'open',
  'high',
  'low',
  'close',
  'market_cap',
  'total_volume',
  'samples',
  'first_at',
  'last_at',
] as const;
/** The columns that summarise the snapshots (all but the key). */
const SUMMARY_COLUMNS = ROLLUP_COLUMNS.slice(3);

/** The rollup rows of the snapshots with from <= last_updated < to (unbounded where null), computed from scratch. */
const aggregate = (interval: RollupInterval) => `
  select coin_id, currency, date_bin('${BUCKET[interval]}', last_updated, ${ORIGIN}) as bucket,
         (array_agg(price order by last_updated))[1] as open, max(price) as high, min(price) as low,
         (array_agg(price order by last_updated desc))[1] as close,
         (array_agg(market_cap order by last_updated desc))[1] as market_cap,
         (array_agg(total_volume order by last_updated desc))[1] as total_volume,
         count(*)::int as samples, min(last_updated) as first_at, max(last_updated) as last_at
    from quote_snapshots
   where (:from::timestamptz is null or last_updated >= :from::timestamptz)
     and (:to::timestamptz is null or last_updated < :to::timestamptz)
   group by 1, 2, 3`;

const inRange = (column: string) =>
  `(:from::timestamptz is null or ${column} >= :from::timestamptz) and (:to::timestamptz is null or ${column} < :to::timestamptz)`;

interface Range {
  from: Date | null;
  to: Date | null;
}

/** Replaces the rollups of the buckets in [from, to) by those computed from the snapshots there, in the caller's transaction. */
async function rebuildRange(trx: Knex, range: Range): Promise<{ hourly: number; daily: number }> {
  const bindings = { from: range.from, to: range.to };
  const counts = { hourly: 0, daily: 0 };
  for (const interval of ['HOUR', 'DAY'] as const) {
    const table = ROLLUP_TABLES[interval];
    await trx.raw(`delete from ${table} where ${inRange('bucket')}`, bindings);
    const { rowCount } = await trx.raw<{ rowCount: number }>(`insert into ${table} (${ROLLUP_COLUMNS.join(', ')}) ${aggregate(interval)}`, bindings);
    counts[interval === 'HOUR' ? 'hourly' : 'daily'] = rowCount;
  }
  return counts;
}

export interface RebuildResult {
  /** where the rebuild started (null: from the oldest snapshot) */
  from: Date | null;
  /** how many chunks (months of snapshots) it rebuilt */
  months: number;
  hourly: number;
  daily: number;
}

/**
 * Recomputes the rollups from the snapshots, from where the snapshots are complete on, one month
 * (one snapshot partition) per transaction. Each transaction holds a SHARE lock on quote_snapshots:
 * readers go on, writers (a fetcher run, the backfill) wait for that month, so no insert merges into
 * a bucket while it is being rebuilt. Rollups beyond every snapshot partition (no snapshot could be
 * there) are removed. Idempotent.
 */
export async function rebuildRollups(db: Knex, onMonth?: (month: { from: Date; to: Date; hourly: number; daily: number }) => void): Promise<RebuildResult> {
  const from = (await completeSince(db)).quote_snapshots;
  const months = (await partitionsOf(db, 'quote_snapshots')).filter((p) => !from || p.range_from.getTime() >= from.getTime());
  const result: RebuildResult = { from, months: 0, hourly: 0, daily: 0 };
  // The ranges no partition covers: [from, first), the gaps between partitions, [last, infinity).
  const uncovered: Range[] = [];
  let cursor: Date | null = from;
  for (const month of months) {
    if (!cursor || cursor.getTime() < month.range_from.getTime()) uncovered.push({ from: cursor, to: month.range_from });
    cursor = month.range_to;
  }
  uncovered.push({ from: cursor, to: null });

  for (const month of months) {
    const counts = await db.transaction(async (trx) => {
      await trx.raw('lock table quote_snapshots in share mode');
      return rebuildRange(trx, { from: month.range_from, to: month.range_to });
    });
    result.months += 1;
    result.hourly += counts.hourly;
    result.daily += counts.daily;
    onMonth?.({ from: month.range_from, to: month.range_to, ...counts });
  }
  await db.transaction(async (trx) => {
    await trx.raw('lock table quote_snapshots in share mode');
    for (const range of uncovered) await rebuildRange(trx, range);
  });
  return result;
}

export interface RollupMismatch {
  interval: RollupInterval;
  coin: string;
  currency: string;
  bucket: Date;
  /** what differs: `samples 4 (snapshots: 5)`, or `missing` / `no snapshots in this bucket` */
  detail: string;
}

const DAY_MS = 86_400_000;

/**
 * Compares the rollups of the buckets from `since` (down to its UTC day, and never before the first
 * whole day of complete snapshots) with the same rollups computed from the snapshots; returns every
 * bucket that differs, in (interval, coin, currency, bucket) order.
 */
export async function verifyRollups(db: Knex, since: Date): Promise<RollupMismatch[]> {
  // Whole days only: a day's rollup summarises the whole day. From the day of `since`, and from the first whole
  // day with complete snapshots (the retention's bounds are month starts, so that is the bound itself).
  const day = Math.floor(since.getTime() / DAY_MS) * DAY_MS;
  const complete = (await completeSince(db)).quote_snapshots;
  const from = new Date(Math.max(day, complete ? Math.ceil(complete.getTime() / DAY_MS) * DAY_MS : day));
  const mismatches: RollupMismatch[] = [];
  for (const interval of ['HOUR', 'DAY'] as const) {
    const { rows } = await db.raw<{
      rows: { coin_id: string; currency: string; bucket: Date; stored: Record<string, unknown> | null; expected: Record<string, unknown> | null }[];
    }>(
      `with expected as (${aggregate(interval)}),
            stored as (select * from ${ROLLUP_TABLES[interval]} where ${inRange('bucket')})
       select coalesce(s.coin_id, e.coin_id) as coin_id, coalesce(s.currency, e.currency) as currency, coalesce(s.bucket, e.bucket) as bucket,
              case when s.coin_id is null then null else jsonb_build_object(${SUMMARY_COLUMNS.map((c) => `'${c}', s.${c}`).join(', ')}) end as stored,
              case when e.coin_id is null then null else jsonb_build_object(${SUMMARY_COLUMNS.map((c) => `'${c}', e.${c}`).join(', ')}) end as expected
         from stored s full join expected e using (coin_id, currency, bucket)
        where ${SUMMARY_COLUMNS.map((c) => `s.${c} is distinct from e.${c}`).join(' or ')}
        order by 1, 2, 3`,
      { from, to: null },
    );
    for (const row of rows) {
      const detail = !row.stored
        ? 'missing'
        : !row.expected
          ? 'no snapshots in this bucket'
          : SUMMARY_COLUMNS.filter((c) => JSON.stringify(row.stored?.[c]) !== JSON.stringify(row.expected?.[c]))
              .map((c) => `${c} ${JSON.stringify(row.stored?.[c])} (snapshots: ${JSON.stringify(row.expected?.[c])})`)
              .join(', ');
      mismatches.push({ interval, coin: row.coin_id, currency: row.currency, bucket: row.bucket, detail });
    }
  }
  return mismatches;
}
