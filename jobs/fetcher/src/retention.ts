import type { Logger } from '@cryptoagg/core';
import { RETENTION_TABLES, type Knex, type RetentionTable } from '@cryptoagg/db';

/**
 * Retention: raw snapshots older than RETENTION_RAW_DAYS and hourly rollups
 * older than RETENTION_HOURLY_DAYS go, a whole monthly partition at a time
 * (DROP TABLE: no row-by-row delete, no dead rows, no vacuum); the daily
 * rollups stay forever. The rollups already hold what the dropped snapshots
 * summarised (a trigger keeps them with every insert), so HOUR / DAY history
 * and candles keep their answers; RAW history answers what is kept.
 *
 * Days count back from the newest stored snapshot (never later than now), not
 * from the wall clock, like the fetcher's snapshot window (window.ts): a fixed
 * data set (the fake upstream's 2025 sample) is kept in any year, and a fetcher
 * that has been down for months does not come back to an empty history.
 *
 * Each drop is recorded in retention_drops (the prices subgraph exports the
 * count as cryptoagg_retention_partitions_dropped; the newest bound per table
 * is where that table's complete data starts, for verify and the rollup
 * rebuild). Running it again drops nothing more: idempotent.
 */

export interface RetentionPolicy {
  rawDays: number;
  hourlyDays: number;
}

export interface DroppedPartition {
  table: RetentionTable;
  partition: string;
  from: Date;
  to: Date;
}

const DAY_MS = 86_400_000;

/** How long a drop waits for readers and writers of the table (DROP needs an exclusive lock on the parent): then it is left for the next run. */
const LOCK_TIMEOUT = '5s';

interface Partition {
  name: string;
  range_from: Date;
  range_to: Date;
}

/** The partitions of `table` with their bounds, oldest first. */
export async function partitionsOf(db: Knex, table: RetentionTable): Promise<Partition[]> {
  const { rows } = await db.raw<{ rows: Partition[] }>(
    `select c.relname as name,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz as range_from,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz as range_to
       from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = ?::regclass
      order by 2`,
    [table],
  );
  return rows;
}

/** The moment retention counts back from: the newest stored snapshot, never later than now; null while nothing is stored. */
async function retentionReference(db: Knex): Promise<Date | null> {
  const { rows } = await db.raw<{ rows: { at: Date | null }[] }>('select least(now(), max(last_updated)) as at from latest_quotes');
  return rows[0]?.at ?? null;
}

/**
 * Where each table's complete data starts: the upper bound of the newest partition the retention
 * dropped (null: nothing dropped, everything ever stored is there). Snapshots stored before it since
 * (a backfill reaching further back) are incomplete months.
 */
export async function completeSince(db: Knex): Promise<Record<RetentionTable, Date | null>> {
  const rows = await db('retention_drops').select('table_name').max<{ table_name: string; max: Date | null }[]>('range_to as max').groupBy('table_name');
  const found = new Map(rows.map((r) => [r.table_name, r.max]));
  return { quote_snapshots: found.get('quote_snapshots') ?? null, quote_rollups_hourly: found.get('quote_rollups_hourly') ?? null };
}

/**
 * Drops every partition of the raw snapshots and of the hourly rollups that lies wholly before its
 * bound (the reference minus the table's days), each in a transaction of its own with its record;
 * returns what it dropped. A partition whose lock cannot be had within LOCK_TIMEOUT is left for the
 * next run (logged).
 */
export async function applyRetention(db: Knex, policy: RetentionPolicy, logger: Logger, reference?: Date): Promise<DroppedPartition[]> {
  const at = reference ?? (await retentionReference(db));
  if (!at) return [];
  const days: Record<RetentionTable, number> = { quote_snapshots: policy.rawDays, quote_rollups_hourly: policy.hourlyDays };
  const dropped: DroppedPartition[] = [];
  for (const table of RETENTION_TABLES) {
    const bound = new Date(at.getTime() - days[table] * DAY_MS);
    for (const partition of await partitionsOf(db, table)) {
      if (partition.range_to.getTime() > bound.getTime()) continue;
      try {
        await db.transaction(async (trx) => {
          await trx.raw(`set local lock_timeout = '${LOCK_TIMEOUT}'`);
          await trx.raw('drop table ??', [partition.name]);
          await trx('retention_drops').insert({
            table_name: table,
            partition_name: partition.name,
            range_from: partition.range_from,
            range_to: partition.range_to,
          });
        });
      } catch (error) {
        logger.warn(
          { table, partition: partition.name, error: error instanceof Error ? error.message : String(error) },
          'retention could not drop a partition',
        );
        continue;
      }
      const drop = { table, partition: partition.name, from: partition.range_from, to: partition.range_to };
      dropped.push(drop);
      logger.info({ ...drop, bound: bound.toISOString(), days: days[table] }, 'retention dropped a partition');
    }
  }
  return dropped;
}

/** The retention the fetcher runs after each successful run: it never fails the run (the data is stored), it logs. */
export async function retainAfterRun(db: Knex, policy: RetentionPolicy, logger: Logger): Promise<void> {
  try {
    const dropped = await applyRetention(db, policy, logger);
    if (dropped.length > 0) logger.info({ dropped: dropped.length }, 'retention done');
  } catch (error) {
    logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'retention failed; the next run tries again');
  }
}
