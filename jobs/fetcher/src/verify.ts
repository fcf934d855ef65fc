import type { Knex } from '@cryptoagg/db';
import { fetcherConfigSchema } from './config.js';
import { completeSince, overduePartitions, recordedPolicy, type RetentionPolicy } from './retention.js';
import { verifyRollups } from './rollups.js';

/** Integrity checks of the stored history (used by `npm run verify`, see verify-main.ts). */

export interface Problem {
  kind: 'gap' | 'duplicate' | 'non-monotonic' | 'stale-latest' | 'rollup' | 'retention';
  coin: string;
  currency: string;
  detail: string;
}

/**
 * Where the checks start: `days` back from now, but not before the snapshots are complete (the
 * retention dropped the partitions before `retainedFrom`: what is not kept is no gap).
 */
export async function checkedSince(db: Knex, days: number): Promise<{ since: Date; retainedFrom: Date | null }> {
  const { rows } = await db.raw<{ rows: { since: Date }[] }>('select now() - make_interval(days => ?) as since', [days]);
  const since = rows[0]?.since ?? new Date(0);
  const retainedFrom = (await completeSince(db)).quote_snapshots;
  return retainedFrom && retainedFrom > since ? { since: retainedFrom, retainedFrom } : { since, retainedFrom: null };
}

/** The fetcher's default RETENTION_RAW_DAYS / RETENTION_HOURLY_DAYS, for a database whose retention never ran. */
function defaultPolicy(): RetentionPolicy {
  const config = fetcherConfigSchema.parse({});
  return { rawDays: config.retentionRawDays, hourlyDays: config.retentionHourlyDays };
}

/**
 * Partitions the retention should have dropped: past the policy the fetcher's retention last ran with
 * (retention_status), or past the defaults when it never ran. One problem per partition, with no coin.
 */
export async function verifyRetention(db: Knex): Promise<Problem[]> {
  const recorded = await recordedPolicy(db);
  const policy = recorded ?? defaultPolicy();
  const whose = recorded ? "the fetcher's last retention run" : 'the defaults: the retention has not run yet';
  return (await overduePartitions(db, policy)).map((p) => ({
    kind: 'retention',
    coin: '*',
    currency: '*',
    detail: `${p.partition} (${p.from.toISOString()} .. ${p.to.toISOString()}) is still kept, though it lies wholly before ${p.bound.toISOString()}, the ${p.days}-day retention of ${p.table} (${whose})`,
  }));
}

/*
 * Gaps, duplicates and the order of arrival are properties of the fetcher's 5-minute snapshots: the
 * backfill's points (source 'backfill') are hourly or daily by design and were all received at once,
 * so they are left out of those checks (the rollup and stale-latest checks cover every snapshot).
 */
export async function verifyHistory(db: Knex, { days, maxGapMinutes }: { days: number; maxGapMinutes: number }): Promise<Problem[]> {
  const { since } = await checkedSince(db, days);
  const { rows: ordered } = await db.raw<{
    rows: { coin_id: string; currency: string; last_updated: Date; fetched_at: Date; prev_updated: Date | null; prev_fetched: Date | null }[];
  }>(
    `select * from (
       select coin_id, currency, last_updated, fetched_at,
              lag(last_updated) over w as prev_updated, lag(fetched_at) over w as prev_fetched
         from quote_snapshots where last_updated >= ? and source = 'fetcher'
       window w as (partition by coin_id, currency order by last_updated)) s
      where prev_updated is not null
        and (last_updated - prev_updated > make_interval(mins => ?) or fetched_at < prev_fetched)
      order by coin_id, currency, last_updated`,
    [since, maxGapMinutes],
  );
  const problems: Problem[] = [];
  for (const row of ordered) {
    const minutes = (row.last_updated.getTime() - row.prev_updated!.getTime()) / 60_000;
    if (minutes > maxGapMinutes) {
      problems.push({
        kind: 'gap',
        coin: row.coin_id,
        currency: row.currency,
        detail: `no snapshot for ${Math.round(minutes)} min: ${row.prev_updated!.toISOString()} -> ${row.last_updated.toISOString()}`,
      });
    }
    if (row.fetched_at < row.prev_fetched!) {
      problems.push({
        kind: 'non-monotonic',
        coin: row.coin_id,
        currency: row.currency,
        detail: `upstream time ${row.last_updated.toISOString()} was received at ${row.fetched_at.toISOString()}, before the earlier ${row.prev_updated!.toISOString()} (received ${row.prev_fetched!.toISOString()})`,
      });
    }
  }
  // One fetch receives one quote per coin and currency: two snapshots with one fetched_at were stored twice.
  const { rows: duplicates } = await db.raw<{ rows: { coin_id: string; currency: string; fetched_at: Date; n: number }[] }>(
    `select coin_id, currency, fetched_at, count(*)::int as n from quote_snapshots where last_updated >= ? and source = 'fetcher'
      group by coin_id, currency, fetched_at having count(*) > 1 order by coin_id, currency, fetched_at`,
    [since],
  );
  for (const row of duplicates) {
    problems.push({
      kind: 'duplicate',
      coin: row.coin_id,
      currency: row.currency,
      detail: `${row.n} snapshots from the fetch at ${row.fetched_at.toISOString()}`,
    });
  }
  const { rows: stale } = await db.raw<{ rows: { coin_id: string; currency: string; latest: Date; newest: Date }[] }>(
    `select l.coin_id, l.currency, l.last_updated as latest, s.newest
       from latest_quotes l
       join (select coin_id, currency, max(last_updated) as newest from quote_snapshots group by coin_id, currency) s using (coin_id, currency)
      where s.newest > l.last_updated order by l.coin_id, l.currency`,
  );
  for (const row of stale) {
    problems.push({
      kind: 'stale-latest',
      coin: row.coin_id,
      currency: row.currency,
      detail: `latest quote is from ${row.latest.toISOString()} but a snapshot from ${row.newest.toISOString()} is stored`,
    });
  }
  for (const m of await verifyRollups(db, since)) {
    problems.push({ kind: 'rollup', coin: m.coin, currency: m.currency, detail: `${m.interval} bucket ${m.bucket.toISOString()}: ${m.detail}` });
  }
  problems.push(...(await verifyRetention(db)));
  return problems;
}
