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
 * rebuild). Running it again drops nothing more: idempotent. Each run after a
 * fetch records its outcome in retention_status (its policy, and its last run
 * that left nothing overdue): the CryptoaggRetentionBehind alert watches that,
 * and `npm run verify` judges the kept partitions by that policy.
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

export interface OverduePartition extends DroppedPartition {
  /** the table's retention bound: the reference minus its days */
  bound: Date;
  days: number;
}

/**
 * The partitions of the raw snapshots and of the hourly rollups that lie wholly before their table's
 * bound (the reference minus the table's days), oldest first: what the retention drops, and after it
 * ran, what it could not drop.
 */
export async function overduePartitions(db: Knex, policy: RetentionPolicy, reference?: Date): Promise<OverduePartition[]> {
  const at = reference ?? (await retentionReference(db));
  if (!at) return [];
  const days: Record<RetentionTable, number> = { quote_snapshots: policy.rawDays, quote_rollups_hourly: policy.hourlyDays };
  const overdue: OverduePartition[] = [];
  for (const table of RETENTION_TABLES) {
    const bound = new Date(at.getTime() - days[table] * DAY_MS);
    for (const p of await partitionsOf(db, table)) {
      if (p.range_to.getTime() <= bound.getTime()) overdue.push({ table, partition: p.name, from: p.range_from, to: p.range_to, bound, days: days[table] });
    }
  }
  return overdue;
}

/**
 * Drops every overdue partition (overduePartitions), each in a transaction of its own with its record;
 * returns what it dropped. A partition whose lock cannot be had within LOCK_TIMEOUT is left for the
 * next run (logged).
 */
export async function applyRetention(db: Knex, policy: RetentionPolicy, logger: Logger, reference?: Date): Promise<DroppedPartition[]> {
  const dropped: DroppedPartition[] = [];
  for (const { bound, days, ...partition } of await overduePartitions(db, policy, reference)) {
    try {
      await db.transaction(async (trx) => {
        await trx.raw(`set local lock_timeout = '${LOCK_TIMEOUT}'`);
        await trx.raw('drop table ??', [partition.partition]);
        await trx('retention_drops').insert({
          table_name: partition.table,
          partition_name: partition.partition,
          range_from: partition.from,
          range_to: partition.to,
        });
      });
    } catch (error) {
      logger.warn(
        { table: partition.table, partition: partition.partition, error: error instanceof Error ? error.message : String(error) },
        'retention could not drop a partition',
      );
      continue;
    }
    dropped.push(partition);
    logger.info({ ...partition, bound: bound.toISOString(), days }, 'retention dropped a partition');
  }
  return dropped;
}

/** The policy the fetcher's retention last ran with (retention_status), or null before its first run. */
export async function recordedPolicy(db: Knex): Promise<RetentionPolicy | null> {
  const row = await db('retention_status').first<{ raw_days: number; hourly_days: number } | undefined>('raw_days', 'hourly_days');
  return row ? { rawDays: row.raw_days, hourlyDays: row.hourly_days } : null;
}

/**
 * The retention the fetcher runs after each successful run: it never fails the run (the data is stored),
 * it logs, and records in retention_status whether it left a partition past its bound (the alert
 * CryptoaggRetentionBehind watches last_success_at).
 */
export async function retainAfterRun(db: Knex, policy: RetentionPolicy, logger: Logger): Promise<void> {
  let error: string | null;
  try {
    const dropped = await applyRetention(db, policy, logger);
    if (dropped.length > 0) logger.info({ dropped: dropped.length }, 'retention done');
    const left = await overduePartitions(db, policy);
    error = left.length === 0 ? null : `could not drop ${left.map((p) => p.partition).join(', ')}`;
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  if (error) logger.warn({ error }, 'retention failed; the next run tries again');
  try {
    await db.raw(
      `insert into retention_status (id, last_run_at, last_success_at, raw_days, hourly_days, last_error)
       values (true, now(), case when ?::text is null then now() end, ?, ?, ?)
       on conflict (id) do update set last_run_at = excluded.last_run_at,
         last_success_at = coalesce(excluded.last_success_at, retention_status.last_success_at),
         raw_days = excluded.raw_days, hourly_days = excluded.hourly_days, last_error = excluded.last_error`,
      [error, policy.rawDays, policy.hourlyDays, error],
    );
  } catch (e) {
    logger.warn({ error: e instanceof Error ? e.message : String(e) }, 'could not record the retention run');
  }
}
