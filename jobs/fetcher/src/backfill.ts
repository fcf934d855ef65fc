import type { Logger } from '@cryptoagg/core';
import type { Knex } from '@cryptoagg/db';
import pg from 'pg';
import { z } from 'zod';
import type { FetcherConfig } from './config.js';
import { completeSince } from './retention.js';
import { createUpstream, type Upstream } from './upstream/client.js';
import { utcMonthStart } from './window.js';

/**
 * `npm run backfill`: history from CoinGecko's /coins/{id}/market_chart for
 * coins the fetcher knows, so a new deployment does not start empty.
 *
 * One task is one coin in one currency; tasks go coin by coin in market-cap
 * order, through the fetcher's upstream client (its rate limiter, retries and
 * 429 handling). Each task's points are stored in one transaction together
 * with its row in backfill_progress, so an interrupted backfill resumes with
 * the first unfinished task and ends with exactly what one uninterrupted run
 * stores; a finished backfill run again does nothing.
 *
 * What it stores, as snapshots marked source = 'backfill' (the rollups'
 * trigger summarises them like any other):
 * - never a snapshot over a stored one (insert ... on conflict do nothing);
 * - only points in UTC hours that had no data before the task: the backfill
 *   fills hours the fetcher missed (before it started, or an outage), never
 *   mixes its coarser points into the fetcher's hours, and never adds a point
 *   again to a bucket whose snapshots the retention has dropped (the rollup
 *   would count it twice). Where the hourly rollups are gone too, the day must
 *   have had no data;
 * - nothing after the coin's latest quote in that currency: history never
 *   runs ahead of the quote.
 * CoinGecko's granularity follows `days`: 5-minute points for 1 day, hourly up
 * to 90, daily beyond; run it with several values (1, 90, 365) for fine recent
 * and long coarse history.
 */

/** An arbitrary constant shared by every backfill process: one backfill at a time. */
const BACKFILL_LOCK_KEY = 8_315_204_418;
const MAX_BACKFILL_DAYS = 3_650;
/** A point older than Bitcoin's genesis block or more than an hour ahead of the fetch is a broken date, not history. */
const OLDEST_POINT = Date.UTC(2009, 0, 3);
const MAX_FUTURE_MS = 3_600_000;
/** ensure_quote_snapshot_partitions refuses more months at once. */
const MAX_MONTHS_PER_CALL = 120;
const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;

export interface BackfillOptions {
  days: number;
  /** coin ids; unset: the coins the newest run listed in each currency, by market-cap rank */
  coins?: string[] | undefined;
  /** unset: every configured currency */
  currency?: string | undefined;
}

interface BackfillTask {
  coinId: string;
  currency: string;
}

export interface BackfillProgress {
  /** tasks finished (this run and earlier ones) */
  done: number;
  total: number;
  /** tasks finished by this run, and its time so far: the basis of the ETA */
  doneThisRun: number;
  elapsedMs: number;
  task: BackfillTask;
  stored: number;
}

export interface BackfillDeps {
  config: FetcherConfig;
  db: Knex;
  databaseUrl: string;
  logger: Logger;
  /** stops between tasks and aborts requests in flight (SIGINT, SIGTERM) */
  signal?: AbortSignal;
  /** the rate limiter's window; tests shrink it */
  rateWindowMs?: number;
  /** after each finished task */
  onProgress?: (progress: BackfillProgress) => void;
}

export interface BackfillResult {
  tasks: number;
  /** finished by an earlier run */
  alreadyDone: number;
  finished: number;
  /** tasks whose request or store failed: not recorded, a later run retries them */
  failed: number;
  pointsReceived: number;
  pointsStored: number;
  pointsSkipped: number;
  requests: number;
  durationMs: number;
}

/** A client's mistake in the backfill's arguments, named after the argument. */
export class BackfillArgumentError extends Error {
  override readonly name = 'BackfillArgumentError';
}

const chartSchema = z.object({
  prices: z.array(z.unknown()),
  market_caps: z.array(z.unknown()).optional(),
  total_volumes: z.array(z.unknown()).optional(),
});

const amount = z.number().check((ctx) => {
  if (!Number.isFinite(ctx.value) || ctx.value < 0) ctx.issues.push({ code: 'custom', message: `not a finite amount (${ctx.value})`, input: ctx.value });
});
const pointSchema = z.tuple([z.number().int(), amount.nullable()]);

interface ChartPoint {
  time: number;
  price: number;
  market_cap: number | null;
  total_volume: number | null;
}

/**
 * The valid points of a market_chart answer, one per timestamp (the first), by time: a point without a
 * price that is a finite amount, or with a broken time, is skipped and counted; a market cap or volume
 * that is missing or not a finite amount is stored as null (the upstream's own "unknown").
 */
export function chartPoints(data: unknown, fetchedAt: number): { points: ChartPoint[]; skipped: number } {
  const chart = chartSchema.safeParse(data);
  if (!chart.success) return { points: [], skipped: 1 };
  let skipped = 0;
  const series = (items: unknown[] | undefined) => {
    const values = new Map<number, number | null>();
    for (const item of items ?? []) {
      const parsed = pointSchema.safeParse(item);
      if (parsed.success && !values.has(parsed.data[0])) values.set(parsed.data[0], parsed.data[1]);
    }
    return values;
  };
  const caps = series(chart.data.market_caps);
  const volumes = series(chart.data.total_volumes);
  const seen = new Set<number>();
  const points: ChartPoint[] = [];
  for (const item of chart.data.prices) {
    const parsed = pointSchema.safeParse(item);
    const [time, price] = parsed.success ? parsed.data : [NaN, null];
    if (!parsed.success || price === null || time < OLDEST_POINT || time > fetchedAt + MAX_FUTURE_MS) {
      skipped += 1;
      continue;
    }
    if (seen.has(time)) continue;
    seen.add(time);
    points.push({ time, price, market_cap: caps.get(time) ?? null, total_volume: volumes.get(time) ?? null });
  }
  points.sort((a, b) => a.time - b.time);
  return { points, skipped };
}

/** The tasks of a backfill, coin by coin in market-cap order (then id), each coin's currencies in configured order. */
async function planBackfill(db: Knex, currencies: readonly string[], options: BackfillOptions): Promise<BackfillTask[]> {
  if (options.currency !== undefined && !currencies.includes(options.currency)) {
    throw new BackfillArgumentError(`--currency: "${options.currency}" is not one of FETCH_CURRENCIES (${currencies.join(', ')})`);
  }
  const wanted = options.currency === undefined ? [...currencies] : [options.currency];
  if (options.coins) {
    // Named coins are backfilled in every wanted currency, listed there or not.
    const rows = await db('coins').whereIn('id', options.coins).select<{ id: string }[]>('id').orderByRaw('market_cap_rank asc nulls last, id asc');
    const known = new Set(rows.map((c) => c.id));
    const unknown = options.coins.filter((id) => !known.has(id));
    if (unknown.length > 0) throw new BackfillArgumentError(`--coins: unknown coin(s) ${unknown.join(', ')}; the fetcher stores a coin first (npm run fetch)`);
    return rows.flatMap((c) => wanted.map((currency) => ({ coinId: c.id, currency })));
  }
  const rows = await db('market_listings as l')
    .join('coins as c', 'c.id', 'l.coin_id')
    .whereIn('l.currency', wanted)
    .select<{ coin_id: string; currency: string }[]>('l.coin_id', 'l.currency')
    .orderByRaw('c.market_cap_rank asc nulls last, c.id asc');
  const listedIn = new Map<string, Set<string>>();
  for (const row of rows) listedIn.set(row.coin_id, (listedIn.get(row.coin_id) ?? new Set()).add(row.currency));
  return [...listedIn].flatMap(([coinId, listed]) => wanted.filter((currency) => listed.has(currency)).map((currency) => ({ coinId, currency })));
}

async function finishedTasks(db: Knex, days: number): Promise<Set<string>> {
  const rows = await db('backfill_progress').where({ days }).select<{ coin_id: string; currency: string }[]>('coin_id', 'currency');
  return new Set(rows.map((r) => `${r.currency}\u0000${r.coin_id}`));
}

/** Makes sure the monthly partitions (snapshots and hourly rollups) for [from, to] exist, at most 120 months per call. */
async function ensureBackfillPartitions(db: Knex, from: number, to: number): Promise<void> {
  for (let start = utcMonthStart(from); start <= to; start = utcMonthStart(start, MAX_MONTHS_PER_CALL)) {
    const end = Math.min(to, utcMonthStart(start, MAX_MONTHS_PER_CALL) - 1);
    await db.raw('select ensure_quote_snapshot_partitions(?::timestamptz, ?::timestamptz)', [new Date(start).toISOString(), new Date(end).toISOString()]);
  }
}

/**
 * Stores a task's points (see the rules at the top) and its progress row in one transaction; returns
 * how many snapshots it stored.
 */
async function storeTask(db: Knex, task: BackfillTask, days: number, points: ChartPoint[], received: number, fetchedAt: Date): Promise<number> {
  const hourlyComplete = (await completeSince(db)).quote_rollups_hourly;
  return db.transaction(async (trx) => {
    const { rows } = await trx.raw<{ rows: { stored: number }[] }>(
      `with p as (select * from unnest(:times::timestamptz[], :prices::float8[], :caps::float8[], :volumes::float8[]) as p(last_updated, price, market_cap, total_volume)),
            latest as (select max(last_updated) as at from latest_quotes where coin_id = :coinId and currency = :currency),
            kept as (
              select p.* from p, latest
               where (latest.at is null or p.last_updated <= latest.at)
                 and not exists (select from quote_rollups_hourly h
                                  where h.coin_id = :coinId and h.currency = :currency
                                    and h.bucket = date_bin('1 hour', p.last_updated, ${ORIGIN}))
                 and not (p.last_updated < coalesce(:hourlyComplete::timestamptz, '-infinity')
                          and exists (select from quote_rollups_daily d
                                       where d.coin_id = :coinId and d.currency = :currency
                                         and d.bucket = date_bin('24 hours', p.last_updated, ${ORIGIN})))),
            stored as (
              insert into quote_snapshots (coin_id, currency, last_updated, fetched_at, price, market_cap, total_volume, source)
              select :coinId::text, :currency::text, last_updated, :fetchedAt::timestamptz, price, market_cap, total_volume, 'backfill' from kept
              on conflict do nothing
              returning 1)
       select count(*)::int as stored from stored`,
      {
        times: points.map((p) => new Date(p.time).toISOString()) as unknown as Knex.RawBinding,
        prices: points.map((p) => p.price) as unknown as Knex.RawBinding,
        caps: points.map((p) => p.market_cap) as unknown as Knex.RawBinding,
        volumes: points.map((p) => p.total_volume) as unknown as Knex.RawBinding,
        coinId: task.coinId,
        currency: task.currency,
        hourlyComplete,
        fetchedAt: fetchedAt.toISOString(),
      },
    );
    const stored = rows[0]?.stored ?? 0;
    await trx('backfill_progress')
      .insert({ coin_id: task.coinId, currency: task.currency, days, points_received: received, points_stored: stored })
      .onConflict(['coin_id', 'currency', 'days'])
      .merge();
    return stored;
  });
}

/** Holds the backfill lock on a connection of its own while `work` runs: a second backfill refuses to start. */
async function withBackfillLock<T>(databaseUrl: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'cryptoagg-backfill-lock', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [BACKFILL_LOCK_KEY]);
    if (!rows[0]?.locked) throw new Error('another backfill is running (it holds the backfill lock)');
    return await work();
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function runTask(upstream: Upstream, db: Knex, task: BackfillTask, days: number) {
  const data = await upstream.get(`/coins/${encodeURIComponent(task.coinId)}/market_chart`, { vs_currency: task.currency, days });
  const fetchedAt = new Date();
  const { points, skipped } = chartPoints(data, fetchedAt.getTime());
  const first = points[0];
  const last = points.at(-1);
  if (first && last) await ensureBackfillPartitions(db, first.time, last.time);
  const stored = await storeTask(db, task, days, points, points.length + skipped, fetchedAt);
  return { received: points.length + skipped, stored, skipped };
}

/**
 * Runs a backfill: plans the tasks, skips those an earlier run finished, and does the rest in order.
 * A task that fails (the upstream refuses the coin, say) is logged and left for a later run; an abort
 * stops at once, losing at most the task in flight (its transaction never commits).
 */
export async function runBackfill(deps: BackfillDeps, options: BackfillOptions): Promise<BackfillResult> {
  const { config, db, logger, signal = new AbortController().signal } = deps;
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > MAX_BACKFILL_DAYS) {
    throw new BackfillArgumentError(`--days: must be a whole number of days between 1 and ${MAX_BACKFILL_DAYS} (got ${options.days})`);
  }
  return withBackfillLock(deps.databaseUrl, async () => {
    const started = Date.now();
    const tasks = await planBackfill(db, config.currencies, options);
    const finished = await finishedTasks(db, options.days);
    const todo = tasks.filter((t) => !finished.has(`${t.currency}\u0000${t.coinId}`));
    const result: BackfillResult = {
      tasks: tasks.length,
      alreadyDone: tasks.length - todo.length,
      finished: 0,
      failed: 0,
      pointsReceived: 0,
      pointsStored: 0,
      pointsSkipped: 0,
      requests: 0,
      durationMs: 0,
    };
    logger.info({ days: options.days, tasks: tasks.length, alreadyDone: result.alreadyDone }, 'backfill starting');
    const upstream = createUpstream({
      baseUrl: config.coingeckoBaseUrl,
      apiKey: config.coingeckoApiKey,
      ratePerMinute: config.ratePerMinute,
      timeoutMs: config.requestTimeoutMs,
      retries: config.retries,
      retryBaseMs: config.retryBaseMs,
      signal,
      logger,
      ...(deps.rateWindowMs ? { windowMs: deps.rateWindowMs } : {}),
    });
    try {
      for (const task of todo) {
        signal.throwIfAborted();
        try {
          const outcome = await runTask(upstream, db, task, options.days);
          result.finished += 1;
          result.pointsReceived += outcome.received;
          result.pointsStored += outcome.stored;
          result.pointsSkipped += outcome.skipped;
          deps.onProgress?.({
            done: result.alreadyDone + result.finished + result.failed,
            total: tasks.length,
            doneThisRun: result.finished + result.failed,
            elapsedMs: Date.now() - started,
            task,
            stored: outcome.stored,
          });
        } catch (error) {
          if (signal.aborted) throw error;
          result.failed += 1;
          logger.warn({ coin: task.coinId, currency: task.currency, error: error instanceof Error ? error.message : String(error) }, 'backfill task failed');
        }
      }
    } finally {
      result.requests = upstream.stats.requests;
      result.durationMs = Date.now() - started;
    }
    return result;
  });
}

const formatDuration = (ms: number): string => {
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
};

/** The time left at this run's pace, or undefined before the first task. */
export const etaMs = (p: Pick<BackfillProgress, 'done' | 'total' | 'doneThisRun' | 'elapsedMs'>): number | undefined =>
  p.doneThisRun === 0 ? undefined : (p.elapsedMs / p.doneThisRun) * (p.total - p.done);

/**
 * One line of the terminal progress bar: `[#####---------------]  25% 190/750 bitcoin usd  ETA 12m30s`.
 * Hand-written (about ten lines) because cli-progress is not among the dependencies.
 */
export function progressBar(p: BackfillProgress, width = 30): string {
  const fraction = p.total === 0 ? 1 : p.done / p.total;
  const filled = Math.round(fraction * width);
  const eta = etaMs(p);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${p.done}/${p.total} ${p.task.coinId} ${p.task.currency}  ETA ${eta === undefined ? '?' : formatDuration(eta)}`;
}
