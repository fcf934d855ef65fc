import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readContractOperations, REPO_ROOT } from '@cryptoagg/core';
import { createDb, migrateLatest, type Knex, type QuoteRow } from '@cryptoagg/db';
import { scratchDatabase, serverInfo, startRedisServer, startServices, type RedisServer, type ScratchDatabase, type Services } from '@cryptoagg/testkit';
import { buildBundles } from './lib/bundles.js';
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';
import pg from 'pg';
import { fetcherConfigSchema } from '../jobs/fetcher/src/config.js';
import { partitionsOf } from '../jobs/fetcher/src/retention.js';
import { rebuildRollups } from '../jobs/fetcher/src/rollups.js';
import { ensurePartitions, startRun, writeRun, type CoinUpsert } from '../jobs/fetcher/src/store.js';
import { candles, historyPoints } from '../subgraphs/prices/src/data.js';
import type { HistoryPointModel, Interval } from '../subgraphs/prices/src/models.js';
import { historyPointsDistinctOn } from './lib/history-previous.js';
import { latency, machine, median, round, timed, type Latency } from './lib/measure.js';
import { RESULTS_DIR, writeResult } from './lib/results.js';

/**
 * History at scale: a year of 5-minute snapshots for 250 coins in one currency
 * (26,280,000 rows) and their hourly and daily rollups, in the real schema.
 *
 * The raw rows are generated with SQL, two months at a time, with the rollup
 * trigger disabled (merging 26 million rows statement by statement would time
 * the trigger, not the reads); the rollups are then built by the project's own
 * rebuild (`npm run rollups -- rebuild`, jobs/fetcher/src/rollups.ts), and both
 * are timed. There is no time budget: the generator finishes or throws, saying
 * how far it got, and the rows present are counted, not assumed.
 *
 * Through the real gateway and subgraphs (separate processes, Redis), for
 * history (DAY over a year, HOUR over 90 days, RAW over a day) and candles
 * (DAY over a year, HOUR over 90 days and over a day): cold (every request a
 * coin and range no cache has seen) and warm (one request repeated: the caches
 * as deployed), with the CPU each process spent on the cold requests, and the
 * SQL alone. Beside them: the storage per coin-year from the measured partition
 * sizes, with and without the default retention; and the fetcher's writeRun
 * (15,000 quotes) with the rollup trigger, without it, and with fillfactor 50
 * on the rollups. EXPLAIN (ANALYZE, BUFFERS) of every case goes to
 * bench/results/history-plans.txt.
 */

export interface HistoryOptions {
  /** DATABASE_URL's server for private databases; unset = an embedded PostgreSQL */
  adminDatabaseUrl?: string | undefined;
  /** default 250 */
  coins?: number;
  /** default 365 (smaller to iterate: HISTORY_BENCH_DAYS) */
  days?: number;
  /** cold requests per case (each a coin and range not asked before); default 50 */
  coldRequests?: number;
  /** warm requests per case (one request repeated); default 200 */
  warmRequests?: number;
  /** coins of the writeRun measure (x usd, eur, btc); default 5000 */
  storeCoins?: number;
  /** timed writeRun calls per variant (after one untimed first run); default 12 (an hour of 5-minute runs) */
  storeRuns?: number;
  /** where the EXPLAIN output goes; default bench/results/history-plans.txt */
  plansPath?: string;
}

type Field = 'history' | 'candles';

export interface CaseResult {
  name: string;
  field: Field;
  interval: Interval;
  days: number;
  /** points (or candles) in every answer of the case; several when the shifted ranges differ by one at an edge */
  points: number[];
  responseBytes: number;
  gateway: { cold: Latency; warm: Latency };
  /** CPU milliseconds per cold request spent by each service process (from /proc) */
  coldCpuMsPerRequest: Record<string, number>;
  /** the prices subgraph's SQL alone (data.ts) over a warm pool, each request a coin and range not read before */
  sql: Latency;
  targetMet: boolean;
}

export interface StorageTable {
  /** table, TOAST and index bytes */
  bytes: number;
  rows: number;
  partitions: number;
  bytesPerCoinDay: number;
}

export interface HistoryResult {
  benchmark: 'history';
  startedAt: string;
  durationMs: number;
  machine: ReturnType<typeof machine> & { postgres: Record<string, string>; database: 'DATABASE_URL' | 'embedded' };
  /** the machine's 1-minute load average at the start and the end of each phase: other work on the machine shows here */
  load: Record<'start' | 'store' | 'load' | 'api', number>;
  data: {
    coins: number;
    currency: string;
    stepMinutes: number;
    days: number;
    from: string;
    to: string;
    /** counted after the load */
    rows: { raw: number; hourly: number; daily: number };
    expectedRawRows: number;
    /** raw rows inserted with the rollup trigger disabled */
    generateMs: number;
    rowsPerSecond: number;
    /** rebuildRollups over every month */
    rollupRebuildMs: number;
    rollupMonths: number;
    /** VACUUM (ANALYZE) of every partition and table, then a CHECKPOINT (null when not allowed) */
    vacuumAnalyzeMs: number;
    checkpointMs: number | null;
  };
  storage: {
    raw: StorageTable;
    hourly: StorageTable;
    daily: StorageTable;
    retention: { rawDays: number; hourlyDays: number };
    /** bytes per coin for a year of data, everything kept */
    perCoinYearWithoutRetention: number;
    /** bytes per coin after a year with the default retention: the partitions it would keep of this data (measured sizes), hourly and daily whole */
    perCoinYearWithRetention: number;
    /** raw partitions the default retention would drop of this year, and the kept raw days */
    rawPartitionsDropped: number;
    rawDaysKept: number;
    /** after the hourly retention too, only the daily rollups grow: bytes per coin per further year */
    perCoinFurtherYearWithRetention: number;
  };
  store: {
    coins: number;
    quotes: number;
    runs: number;
    /** median writeRun ms of the timed runs (5-minute steps, the rollup buckets mostly updated) */
    variants: Record<StoreVariant, { medianMs: number; samples: number[] }>;
  };
  coldRequests: number;
  warmRequests: number;
  cases: CaseResult[];
  target: { description: string; met: boolean; missed: string[] };
  /** the rollups' HOUR / DAY answers against the same history computed from the raw snapshots (bench/lib/history-previous.ts) */
  reference: { description: string; sameAnswers: boolean; checks: number };
  plansFile: string;
  notes: string[];
}

const CURRENCY = 'usd';
const STEP_MINUTES = 5;
const DAY_MS = 86_400_000;
const MAX_POINTS = 10_001; // the prices subgraph asks for MAX_HISTORY_POINTS + 1
const TARGET = { cold: 20, warm: 5 } as const;

const coinId = (n: number) => `bench-coin-${String(n).padStart(3, '0')}`;

const HISTORY_DOCUMENT = (() => {
  // The contract's pinned copy.
  const document = parse(readContractOperations());
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && d.name?.value === 'CoinHistory');
  if (!operation) throw new Error('schema/contract/operations.graphql has no CoinHistory operation');
  return print(operation);
})();

const CANDLES_DOCUMENT = `query CoinCandles($id: ID!, $currency: String, $from: DateTime!, $to: DateTime!, $interval: CandleInterval!) {
  coin(id: $id) { id candles(currency: $currency, from: $from, to: $to, interval: $interval) { time open high low close volume samples } }
}`;

/** Month-aligned pieces of [from, to), newest first: each lands in one partition. */
function monthChunks(from: Date, to: Date): { from: Date; to: Date }[] {
  const chunks: { from: Date; to: Date }[] = [];
  let start = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), 1));
  while (start < to) {
    const next = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
    chunks.push({ from: start < from ? from : start, to: next > to ? to : next });
    start = next;
  }
  return chunks.reverse();
}

/**
 * One chunk of snapshots for every coin: float arithmetic only (numeric is ~2x
 * slower here), rows in primary-key order per coin, each coin at its own
 * second offset within the 5 minutes (never crossing the chunk's end).
 */
const GENERATE_SQL = `
insert into quote_snapshots (coin_id, currency, last_updated, fetched_at, price, market_cap, total_volume,
                             high_24h, low_24h, price_change_24h, price_change_percentage_24h, circulating_supply)
select k.id, $4, t + k.offset_, t + k.offset_ + interval '30 seconds',
       p.price, p.price * k.supply, p.price * k.supply * 0.04, p.price * 1.03, p.price * 0.97, p.price * 0.012, 1.2, k.supply
  from generate_series(1, $3::int) as c
 cross join lateral (select 'bench-coin-' || lpad(c::text, 3, '0') as id,
                            make_interval(secs => (c * 37) % 300) as offset_,
                            power(10::float8, (c % 7) - 2) as base,
                            1e6::float8 * c as supply) k
 cross join lateral generate_series($1::timestamptz, $2::timestamptz - interval '${STEP_MINUTES} minutes', interval '${STEP_MINUTES} minutes') as t
 cross join lateral (select k.base * (1.5 + sin(extract(epoch from t)::float8 / 604800 + c) * 0.4
                                          + sin(extract(epoch from t)::float8 / 3600 + c * 3) * 0.02) as price) p`;

const ROLLUP_TRIGGER = 'quote_snapshots_rollups';

/** The raw snapshots of every month, two months at a time, the rollup trigger off; throws naming the months done. */
async function generateRaw(url: string, coins: number, from: Date, to: Date): Promise<{ ms: number; rows: number }> {
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'bench-history-generate' });
  const chunks = monthChunks(from, to);
  const total = chunks.length;
  const done: { from: Date; rows: number }[] = [];
  let failed = false;
  const started = performance.now();
  try {
    await pool.query(
      `insert into coins (id, symbol, name, image, market_cap_rank)
       select 'bench-coin-' || lpad(c::text, 3, '0'), 'b' || c, 'Bench Coin ' || c, null, c from generate_series(1, $1::int) c`,
      [coins],
    );
    await pool.query('select ensure_quote_snapshot_partitions($1, $2)', [from, to]);
    await pool.query(`alter table quote_snapshots disable trigger ${ROLLUP_TRIGGER}`);
    const worker = async () => {
      const client = await pool.connect();
      try {
        await client.query('set synchronous_commit = off');
        await client.query('set jit = off');
        for (let chunk = chunks.shift(); chunk && !failed; chunk = chunks.shift()) {
          const result = await client.query(GENERATE_SQL, [chunk.from, chunk.to, coins, CURRENCY]);
          done.push({ from: chunk.from, rows: result.rowCount ?? 0 });
        }
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        client.release();
      }
    };
    await Promise.all([worker(), worker()]);
    await pool.query(`alter table quote_snapshots enable trigger ${ROLLUP_TRIGGER}`);
    return { ms: performance.now() - started, rows: done.reduce((sum, c) => sum + c.rows, 0) };
  } catch (error) {
    const months = done.map((c) => c.from.toISOString().slice(0, 7)).sort();
    throw new Error(
      `generating the snapshots failed after ${done.length} of ${total} months (${done.reduce((s, c) => s + c.rows, 0)} rows${months.length ? `: ${months[0]} .. ${months.at(-1)}` : ''}) in ${Math.round((performance.now() - started) / 1000)} s: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    await pool.end();
  }
}

/** VACUUM (ANALYZE) of every partition and table of the history, two at a time, then a CHECKPOINT so the measurements do not share the disk with it. */
async function settle(url: string): Promise<{ vacuumMs: number; checkpointMs: number | null }> {
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'bench-history-vacuum' });
  try {
    const vacuum = await timed(async () => {
      const { rows } = await pool.query<{ name: string }>(
        `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent in ('quote_snapshots'::regclass, 'quote_rollups_hourly'::regclass)
         union all select 'quote_rollups_daily' union all select 'coins' order by 1`,
      );
      const names = rows.map((r) => r.name);
      await Promise.all(
        [0, 1].map(async () => {
          for (let name = names.shift(); name; name = names.shift()) await pool.query(`vacuum (analyze) ${name}`);
        }),
      );
      await pool.query('analyze quote_snapshots');
      await pool.query('analyze quote_rollups_hourly');
    });
    const checkpoint = await timed(() =>
      pool.query('checkpoint').then(
        () => true,
        () => false,
      ),
    );
    return { vacuumMs: vacuum.ms, checkpointMs: checkpoint.value ? checkpoint.ms : null };
  } finally {
    await pool.end();
  }
}

interface PartitionSize {
  name: string;
  range_from: Date;
  range_to: Date;
  bytes: number;
  rows: number;
}

async function partitionSizes(db: Knex, table: 'quote_snapshots' | 'quote_rollups_hourly'): Promise<PartitionSize[]> {
  const sizes: PartitionSize[] = [];
  for (const p of await partitionsOf(db, table)) {
    const { rows } = await db.raw<{ rows: { bytes: string; n: string }[] }>(
      `select pg_total_relation_size(?::regclass) as bytes, (select count(*) from ??) as n`,
      [p.name, p.name],
    );
    sizes.push({ ...p, bytes: Number(rows[0]?.bytes ?? 0), rows: Number(rows[0]?.n ?? 0) });
  }
  return sizes;
}

/** Storage per coin-year from the measured sizes: everything kept, and what the default retention would keep of this year. */
async function storage(db: Knex, coins: number, days: number, to: Date): Promise<HistoryResult['storage']> {
  const parsed = fetcherConfigSchema.safeParse({});
  if (!parsed.success) throw new Error(`the fetcher's default configuration does not parse: ${parsed.error.message}`);
  const retention = { rawDays: parsed.data.retentionRawDays, hourlyDays: parsed.data.retentionHourlyDays };
  const raw = await partitionSizes(db, 'quote_snapshots');
  const hourly = await partitionSizes(db, 'quote_rollups_hourly');
  const { rows: dailyRows } = await db.raw<{ rows: { bytes: string; n: string }[] }>(
    `select pg_total_relation_size('quote_rollups_daily') as bytes, (select count(*) from quote_rollups_daily) as n`,
  );
  const table = (parts: { bytes: number; rows: number }[], partitions: number): StorageTable => {
    const bytes = parts.reduce((s, p) => s + p.bytes, 0);
    return { bytes, rows: parts.reduce((s, p) => s + p.rows, 0), partitions, bytesPerCoinDay: round(bytes / coins / days, 1) };
  };
  const daily = table([{ bytes: Number(dailyRows[0]?.bytes ?? 0), rows: Number(dailyRows[0]?.n ?? 0) }], 0);
  const rawTable = table(raw, raw.length);
  const hourlyTable = table(hourly, hourly.length);
  // applyRetention's rule (retention.ts): a partition goes when it lies wholly before the newest snapshot minus the days.
  const kept = (parts: PartitionSize[], keepDays: number) => parts.filter((p) => p.range_to.getTime() > to.getTime() - keepDays * DAY_MS);
  const rawKept = kept(raw, retention.rawDays);
  const hourlyKept = kept(hourly, retention.hourlyDays);
  const sum = (parts: PartitionSize[]) => parts.reduce((s, p) => s + p.bytes, 0);
  const yearFactor = 365 / days;
  const oldestKept = Math.max(rawKept[0]?.range_from.getTime() ?? to.getTime(), to.getTime() - days * DAY_MS);
  return {
    raw: rawTable,
    hourly: hourlyTable,
    daily,
    retention,
    perCoinYearWithoutRetention: Math.round(((rawTable.bytes + hourlyTable.bytes + daily.bytes) / coins) * yearFactor),
    perCoinYearWithRetention: Math.round((sum(rawKept) + (sum(hourlyKept) + daily.bytes) * yearFactor) / coins),
    rawPartitionsDropped: raw.length - rawKept.length,
    rawDaysKept: round((to.getTime() - oldestKept) / DAY_MS, 0),
    perCoinFurtherYearWithRetention: Math.round((daily.bytes / coins) * yearFactor),
  };
}

const STORE_CURRENCIES = ['usd', 'eur', 'btc'];
type StoreVariant = 'rollupTriggerFillfactor100' | 'noRollupTrigger' | 'rollupTriggerFillfactor50';

/**
 * writeRun of `coins` x 3 currencies, runs 5 minutes apart as in production (each run's snapshots land in
 * the buckets of the runs before it, so the trigger mostly updates rollup rows), in a database of its own:
 * with the rollup trigger at the default fillfactor (100), without the trigger, and with the trigger and fillfactor 50
 * on the rollup tables (room for HOT updates; what migration 20261203150100_rollups_fillfactor sets).
 */
async function storeBenchmark(adminUrl: string | undefined, coins: number, runs: number, to: Date): Promise<HistoryResult['store']> {
  const database = await scratchDatabase(adminUrl, 'bench_history_store');
  const db = createDb({ url: database.url, poolMax: 2, applicationName: 'bench-history-store' });
  try {
    await migrateLatest(db);
    const base = new Date(to.getTime() - 2 * DAY_MS);
    await ensurePartitions(db, base, new Date(base.getTime() + DAY_MS));
    const coinRows: CoinUpsert[] = Array.from({ length: coins }, (_, i) => ({
      id: `store-coin-${String(i + 1).padStart(4, '0')}`,
      symbol: `s${i + 1}`,
      name: `Store Coin ${i + 1}`,
      image: null,
      market_cap_rank: i + 1,
    }));
    const quotesOfRun = (run: number): QuoteRow[] =>
      STORE_CURRENCIES.flatMap((currency, c) =>
        coinRows.map((coin, i) => {
          const lastUpdated = new Date(base.getTime() + run * STEP_MINUTES * 60_000 + ((i * 37) % 290) * 1000);
          const price = (1 + c) * (100 + i) * (1 + Math.sin(run + i) * 0.01);
          return {
            coin_id: coin.id,
            currency,
            last_updated: lastUpdated,
            fetched_at: new Date(lastUpdated.getTime() + 30_000),
            price,
            market_cap: price * 1e6,
            total_volume: price * 4e4,
            high_24h: price * 1.03,
            low_24h: price * 0.97,
            price_change_24h: price * 0.01,
            price_change_percentage_24h: 1,
            circulating_supply: 1e6,
          };
        }),
      );
    const counts = {
      requests: 0,
      items_received: coins * STORE_CURRENCIES.length,
      items_skipped: 0,
      metadata_updated: 0,
      metadata_skipped: 0,
      upstream_errors: {},
    };
    // Set before each variant's truncate: the new, empty tables are filled at that fillfactor.
    const setFillfactor = async (fillfactor: number) => {
      const tables = ['quote_rollups_daily', ...(await partitionsOf(db, 'quote_rollups_hourly')).map((p) => p.name)];
      for (const t of tables) await db.raw(`alter table ?? set (fillfactor = ${fillfactor})`, [t]);
    };
    const trigger = (on: boolean) => db.raw(`alter table quote_snapshots ${on ? 'enable' : 'disable'} trigger ${ROLLUP_TRIGGER}`);
    const variants: Record<StoreVariant, () => Promise<void>> = {
      rollupTriggerFillfactor100: () => setFillfactor(100),
      noRollupTrigger: () => trigger(false).then(() => undefined),
      rollupTriggerFillfactor50: async () => {
        await trigger(true);
        await setFillfactor(50);
      },
    };
    const result = {} as Record<StoreVariant, { medianMs: number; samples: number[] }>;
    for (const [name, prepare] of Object.entries(variants) as [StoreVariant, () => Promise<void>][]) {
      await prepare();
      await db.raw('truncate coins, latest_quotes, quote_snapshots, fetch_runs, market_listings restart identity cascade');
      const samples: number[] = [];
      // Run 0 stores every coin for the first time: untimed.
      for (let run = 0; run <= runs; run += 1) {
        const runId = await startRun(db, STORE_CURRENCIES);
        const quotes = quotesOfRun(run);
        const stored = await timed(() => writeRun(db, { runId, coins: coinRows, quotes, metadata: [], counts }));
        if (stored.value.snapshotsInserted !== quotes.length)
          throw new Error(`writeRun stored ${stored.value.snapshotsInserted} snapshots, expected ${quotes.length}`);
        if (run > 0) samples.push(round(stored.ms, 1));
      }
      const [rollups] = await db('quote_rollups_hourly').count<{ n: number }[]>('* as n');
      const expectedHourly = name === 'noRollupTrigger' ? 0 : coins * STORE_CURRENCIES.length * Math.ceil(((runs + 1) * STEP_MINUTES) / 60);
      if (Number(rollups?.n) !== expectedHourly) throw new Error(`${name}: ${rollups?.n} hourly rollup rows, expected ${expectedHourly}`);
      result[name] = { medianMs: round(median(samples), 1), samples };
    }
    return { coins, quotes: coins * STORE_CURRENCIES.length, runs, variants: result };
  } finally {
    await db.destroy();
    await database.stop();
  }
}

interface Case {
  name: string;
  field: Field;
  interval: Interval;
  days: number;
}

interface GraphQLAnswer {
  data?: { coin: { id: string; history?: unknown[]; candles?: unknown[] } | null };
  errors?: { message: string }[];
}

interface Request {
  id: string;
  from: Date;
  to: Date;
}

async function ask(gatewayUrl: string, c: Case, r: Request): Promise<{ ms: number; points: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: c.field === 'history' ? HISTORY_DOCUMENT : CANDLES_DOCUMENT,
      variables: { id: r.id, currency: CURRENCY, from: r.from.toISOString(), to: r.to.toISOString(), interval: c.interval },
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  const body = JSON.parse(text) as GraphQLAnswer;
  const points = body.data?.coin?.[c.field]?.length ?? 0;
  if (response.status !== 200 || body.errors || points === 0) throw new Error(`${c.name} ${r.id}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return { ms, points, bytes: Buffer.byteLength(text) };
}

const sqlOf = (db: Knex, c: Case, r: Request): Promise<unknown[]> => {
  const query = { coinId: r.id, currency: CURRENCY, from: r.from, to: r.to };
  if (c.field === 'candles' && c.interval !== 'RAW') return candles(db, { ...query, interval: c.interval }, MAX_POINTS);
  return historyPoints(db, { ...query, interval: c.interval }, MAX_POINTS);
};

/** EXPLAIN (ANALYZE, BUFFERS) of the SQL a function sends, captured from knex and replayed on a plain connection. */
async function explain(db: Knex, client: pg.Client, run: (db: Knex) => Promise<unknown>): Promise<string> {
  let captured: { sql: string; bindings: unknown[] } | undefined;
  const listener = (query: { sql: string; bindings?: unknown[] }) => void (captured ??= { sql: query.sql, bindings: query.bindings ?? [] });
  db.on('query', listener);
  try {
    await run(db);
  } finally {
    db.removeListener('query', listener);
  }
  if (!captured) throw new Error('no SQL captured');
  const { sql, bindings } = captured;
  // knex's `?` placeholders as pg's `$n`
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${(n += 1)}`);
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${text}`, bindings);
  const params = bindings.map((b, i) => `$${i + 1} = ${b instanceof Date ? b.toISOString() : JSON.stringify(b)}`).join(', ');
  return `${text.trim()}\n-- ${params}\n\n${rows.map((r) => r['QUERY PLAN']).join('\n')}`;
}

/** CPU time (user + system) of a process so far, in ms, from /proc (Linux). */
function cpuMs(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux)
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

export async function historyBenchmark(options: HistoryOptions = {}): Promise<HistoryResult> {
  const startedAt = new Date();
  const coins = options.coins ?? 250;
  const days = options.days ?? 365;
  const coldRequests = options.coldRequests ?? 50;
  const warmRequests = options.warmRequests ?? 200;
  const plansPath = options.plansPath ?? path.join(RESULTS_DIR, 'history-plans.txt');
  const notes: string[] = [];
  const loadAverage = () => round(os.loadavg()[0] ?? Number.NaN, 2);
  const load = { start: loadAverage(), store: Number.NaN, load: Number.NaN, api: Number.NaN };

  const now = new Date();
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const from = new Date(to.getTime() - days * DAY_MS);
  const within = (d: number) => Math.min(d, days);
  const cases: Case[] = [
    { name: `history DAY ${within(365)} days`, field: 'history', interval: 'DAY', days: within(365) },
    { name: `history HOUR ${within(90)} days`, field: 'history', interval: 'HOUR', days: within(90) },
    { name: 'history RAW 1 day', field: 'history', interval: 'RAW', days: 1 },
    { name: `candles DAY ${within(365)} days`, field: 'candles', interval: 'DAY', days: within(365) },
    { name: `candles HOUR ${within(90)} days`, field: 'candles', interval: 'HOUR', days: within(90) },
    { name: 'candles HOUR 1 day', field: 'candles', interval: 'HOUR', days: 1 },
  ];
  // Every cold request (and SQL-alone query) a coin (cycling) and a range ending 5 s earlier than the one before: no two
  // share a cache key. The shift stays under an hour (600 requests), so every range holds the same buckets (a RAW day
  // may hold one snapshot more or less). The warm request and the plans use ranges ending at `to`.
  let sequence = 0;
  const coldRequest = (c: Case): Request => {
    sequence += 1;
    const end = new Date(to.getTime() - sequence * 5_000);
    return { id: coinId(1 + (sequence % coins)), from: new Date(end.getTime() - c.days * DAY_MS), to: end };
  };
  if (cases.length * coldRequests * 2 * 5 >= 3600) throw new Error(`at most ${Math.floor(3600 / 5 / 2 / cases.length) - 1} cold requests per case`);

  let database: ScratchDatabase | undefined;
  let db: Knex | undefined;
  let client: pg.Client | undefined;
  let redis: RedisServer | undefined;
  let services: Services | undefined;
  try {
    const store = await storeBenchmark(options.adminDatabaseUrl, options.storeCoins ?? 5000, options.storeRuns ?? 12, to);
    load.store = loadAverage();

    database = await scratchDatabase(options.adminDatabaseUrl, 'bench_history');
    const knex = createDb({ url: database.url, poolMax: 2, applicationName: 'bench-history' });
    db = knex;
    await migrateLatest(knex);
    const postgres = await serverInfo(database.url);
    const generated = await generateRaw(database.url, coins, from, to);
    const rebuilt = await timed(() => rebuildRollups(knex));
    const settled = await settle(database.url);
    const { rows: counted } = await knex.raw<{ rows: { raw: string; hourly: string; daily: string }[] }>(
      `select (select count(*) from quote_snapshots) as raw, (select count(*) from quote_rollups_hourly) as hourly,
              (select count(*) from quote_rollups_daily) as daily`,
    );
    const rows = { raw: Number(counted[0]?.raw), hourly: Number(counted[0]?.hourly), daily: Number(counted[0]?.daily) };
    const expectedRawRows = coins * days * ((24 * 60) / STEP_MINUTES);
    if (rows.raw !== expectedRawRows) throw new Error(`${rows.raw} snapshots stored, expected ${expectedRawRows}`);
    if (rows.hourly !== coins * days * 24 || rows.daily !== coins * days) {
      throw new Error(`${rows.hourly} hourly and ${rows.daily} daily rollup rows, expected ${coins * days * 24} and ${coins * days}`);
    }
    const measuredStorage = await storage(knex, coins, days, to);
    load.load = loadAverage();

    // The rollups' answers against the same history computed from the raw snapshots (the SQL before the rollups).
    let checks = 0;
    let sameAnswers = true;
    const sameAnswer = (a: HistoryPointModel[], b: HistoryPointModel[]) => JSON.stringify(a) === JSON.stringify(b);
    for (const c of cases.filter((x) => x.field === 'history' && x.interval !== 'RAW')) {
      for (let i = 0; i < 10; i += 1) {
        const query = {
          coinId: coinId(1 + ((i * 23) % coins)),
          currency: CURRENCY,
          from: new Date(to.getTime() - c.days * DAY_MS - i * 3_600_001),
          to,
          interval: c.interval,
        };
        checks += 1;
        if (!sameAnswer(await historyPoints(knex, query, MAX_POINTS), await historyPointsDistinctOn(knex, query, MAX_POINTS))) sameAnswers = false;
      }
    }

    // The SQL alone, each request a coin and range not read before.
    const sql: Record<string, Latency> = {};
    for (const c of cases) {
      const samples: number[] = [];
      for (let i = 0; i < coldRequests; i += 1) samples.push((await timed(() => sqlOf(knex, c, coldRequest(c)))).ms);
      sql[c.name] = latency(samples);
    }

    // The plans, on a coin of its own.
    client = new pg.Client({ connectionString: database.url, application_name: 'bench-history-explain' });
    await client.connect();
    const planId = coinId(coins);
    const plans: string[] = [
      `-- EXPLAIN (ANALYZE, BUFFERS) of the prices subgraph's history and candles SQL (subgraphs/prices/src/data.ts), captured from knex.`,
      `-- ${rows.raw} raw rows (${coins} coins x ${days} days of ${STEP_MINUTES}-minute snapshots, ${CURRENCY}), ${rows.hourly} hourly and ${rows.daily} daily rollups; PostgreSQL ${postgres.version}; ${startedAt.toISOString()}`,
      `-- each query ran once just before its EXPLAIN (to capture its SQL and parameters): the plans show work, not I/O`,
      '',
    ];
    for (const c of cases) {
      const r = { id: planId, from: new Date(to.getTime() - c.days * DAY_MS), to };
      plans.push(`==== ${c.name} (coin ${planId}, ${r.from.toISOString()} .. ${r.to.toISOString()})`, await explain(knex, client, (k) => sqlOf(k, c, r)), '');
    }
    mkdirSync(path.dirname(plansPath), { recursive: true });
    writeFileSync(plansPath, `${plans.join('\n')}\n`);

    // The API as deployed (the bundles, run with their images' commands): gateway (its whole-response cache) over both subgraphs (their Redis caches).
    redis = await startRedisServer();
    await buildBundles();
    services = await startServices({ databaseUrl: database.url, redisUrl: redis.url, bundles: true });
    const gateway = services.url('gateway');
    const pids = Object.fromEntries(Object.entries(services.processes).map(([name, p]) => [name, p.child.pid]));
    // Warm-up of every process on a coin and ranges the measurements do not use.
    for (let i = 0; i < 10; i += 1) {
      for (const c of cases)
        await ask(gateway, c, { id: coinId(coins - 1), from: new Date(to.getTime() - c.days * DAY_MS - i * 1000), to: new Date(to.getTime() - i * 1000) });
    }

    const results: CaseResult[] = [];
    for (const c of cases) {
      const points = new Set<number>();
      let bytes = 0;
      const cold: number[] = [];
      const cpuBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));
      for (let i = 0; i < coldRequests; i += 1) {
        const answer = await ask(gateway, c, coldRequest(c));
        cold.push(answer.ms);
        points.add(answer.points);
        bytes = answer.bytes;
      }
      const coldCpuMsPerRequest = Object.fromEntries(
        Object.entries(pids).map(([name, pid]) => [name, round((cpuMs(pid) - cpuBefore[name]!) / coldRequests, 2)]),
      );
      const warmRequest = { id: coinId(coins - 2), from: new Date(to.getTime() - c.days * DAY_MS), to };
      await ask(gateway, c, warmRequest);
      const warm: number[] = [];
      for (let i = 0; i < warmRequests; i += 1) warm.push((await ask(gateway, c, warmRequest)).ms);
      const measured = { cold: latency(cold), warm: latency(warm) };
      results.push({
        name: c.name,
        field: c.field,
        interval: c.interval,
        days: c.days,
        points: [...points].sort((a, b) => a - b),
        responseBytes: bytes,
        gateway: measured,
        coldCpuMsPerRequest,
        sql: sql[c.name]!,
        targetMet: measured.cold.p95 < TARGET.cold && measured.warm.p95 < TARGET.warm,
      });
    }

    load.api = loadAverage();
    const missed = results.flatMap((r) =>
      (['cold', 'warm'] as const).filter((state) => r.gateway[state].p95 >= TARGET[state]).map((state) => `${r.name} ${state}: p95 ${r.gateway[state].p95} ms`),
    );
    if (days !== 365) notes.push(`measured on ${days} days (HISTORY_BENCH_DAYS), not the year of the issue`);
    notes.push(
      'cold = a coin and range no cache has seen (gateway, coins and prices subgraphs miss their caches and query PostgreSQL; the coins subgraph may know the coin from an earlier case); the database pages may be in the OS page cache after the load.',
      'requests are sequential (one in flight), from this process over loopback; gateway, subgraphs, Redis, PostgreSQL and this client share the machine.',
      `the raw rows were inserted with the rollup trigger disabled, then the rollups built by rebuildRollups (npm run rollups -- rebuild), one month per transaction.`,
      'the rollups are stored at fillfactor 50 (migration 20261203150100_rollups_fillfactor: room for the trigger\u2019s HOT updates), so the rebuilt pages are about half full and the rollup sizes above up to twice those of tightly packed pages.',
    );
    return {
      benchmark: 'history',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      machine: { ...machine(), postgres, database: database.server },
      load,
      data: {
        coins,
        currency: CURRENCY,
        stepMinutes: STEP_MINUTES,
        days,
        from: from.toISOString(),
        to: to.toISOString(),
        rows,
        expectedRawRows,
        generateMs: Math.round(generated.ms),
        rowsPerSecond: Math.round((generated.rows / generated.ms) * 1000),
        rollupRebuildMs: Math.round(rebuilt.ms),
        rollupMonths: rebuilt.value.months,
        vacuumAnalyzeMs: Math.round(settled.vacuumMs),
        checkpointMs: settled.checkpointMs === null ? null : Math.round(settled.checkpointMs),
      },
      storage: measuredStorage,
      store,
      coldRequests,
      warmRequests,
      cases: results,
      target: {
        description: `p95 < ${TARGET.cold} ms cold and < ${TARGET.warm} ms warm for every case, through the gateway`,
        met: missed.length === 0,
        missed,
      },
      reference: {
        description:
          'the rollups\u2019 HOUR / DAY history against the same history computed from the raw snapshots with DISTINCT ON (bench/lib/history-previous.ts)',
        sameAnswers,
        checks,
      },
      plansFile: path.relative(REPO_ROOT, plansPath),
      notes,
    };
  } finally {
    await services?.stop();
    await redis?.stop();
    await client?.end().catch(() => undefined);
    await db?.destroy();
    await database?.stop();
  }
}

const f = (value: number, digits = 1) => value.toLocaleString('en', { maximumFractionDigits: digits });
const mb = (bytes: number) => `${f(bytes / 1024 ** 2)} MB`;
const kb = (bytes: number) => `${f(bytes / 1024)} KB`;

/** The History section of bench/RESULTS.md. */
export function historySection(h: HistoryResult): string {
  const s = h.storage;
  const v = h.store.variants;
  const cpu = (c: CaseResult) =>
    Object.entries(c.coldCpuMsPerRequest)
      .map(([name, ms]) => `${name.replace(/^gateway:/, '')} ${f(ms)}`)
      .join(', ');
  return [
    `## History at scale (${f(h.data.rows.raw, 0)} raw rows: ${h.data.coins} coins x ${h.data.days} days of 5-minute snapshots, with ${f(h.data.rows.hourly, 0)} hourly and ${f(h.data.rows.daily, 0)} daily rollups)`,
    '',
    `Raw rows inserted with the rollup trigger disabled in ${f(h.data.generateMs / 1000)} s (${f(h.data.rowsPerSecond, 0)} rows/s), then the rollups built by the project's rebuild (\`npm run rollups -- rebuild\`, ${h.data.rollupMonths} months) in ${f(h.data.rollupRebuildMs / 1000)} s; VACUUM ANALYZE ${f(h.data.vacuumAnalyzeMs / 1000)} s. Rows counted after the load. The whole benchmark took ${f(h.durationMs / 1000, 0)} s.`,
    '',
    `Through the gateway: cold = ${h.coldRequests} requests, each a coin and range no cache has seen; warm = one request repeated ${h.warmRequests} times (the caches as deployed); SQL alone = the prices subgraph's query (data.ts) on a warm pool, each a coin and range not read before.`,
    '',
    '| case | points | cold p50 / p95 ms | warm p50 / p95 ms | SQL alone p50 / p95 ms | cold CPU ms per request |',
    '| --- | --- | --- | --- | --- | --- |',
    ...h.cases.map(
      (c) =>
        `| ${c.name} | ${c.points.join(', ')} | ${f(c.gateway.cold.p50)} / ${c.gateway.cold.p95 >= TARGET.cold ? `**${f(c.gateway.cold.p95)}**` : f(c.gateway.cold.p95)} | ${f(c.gateway.warm.p50)} / ${c.gateway.warm.p95 >= TARGET.warm ? `**${f(c.gateway.warm.p95)}**` : f(c.gateway.warm.p95)} | ${f(c.sql.p50)} / ${f(c.sql.p95)} | ${cpu(c)} |`,
    ),
    '',
    `- ${h.target.description}: ${h.target.met ? 'met' : '**missed**'}${h.target.missed.length ? ` (${h.target.missed.join('; ')})` : ''}.`,
    `- Rollup answers identical to the raw snapshots' (${h.reference.checks} checks): ${h.reference.sameAnswers ? 'yes' : '**no**'}. Query plans: \`${h.plansFile}\`.`,
    '',
    `Storage per coin-year (table, TOAST and index bytes of the measured partitions; ${s.retention.rawDays} days raw, ${s.retention.hourlyDays} days hourly, daily forever):`,
    '',
    '| table | rows | size | per coin-day |',
    '| --- | --- | --- | --- |',
    `| raw snapshots (${s.raw.partitions} partitions) | ${f(s.raw.rows, 0)} | ${mb(s.raw.bytes)} | ${kb(s.raw.bytesPerCoinDay)} |`,
    `| hourly rollups (${s.hourly.partitions} partitions) | ${f(s.hourly.rows, 0)} | ${mb(s.hourly.bytes)} | ${kb(s.hourly.bytesPerCoinDay)} |`,
    `| daily rollups | ${f(s.daily.rows, 0)} | ${mb(s.daily.bytes)} | ${kb(s.daily.bytesPerCoinDay)} |`,
    '',
    `- Without retention: ${mb(s.perCoinYearWithoutRetention)} per coin-year.`,
    `- With the default retention: ${mb(s.perCoinYearWithRetention)} per coin after a year (the retention drops ${s.rawPartitionsDropped} of the ${s.raw.partitions} raw partitions, keeping ${s.rawDaysKept} days: whole months); from the third year on only the daily rollups grow, ${kb(s.perCoinFurtherYearWithRetention)} per coin-year.`,
    '',
    `Store time: the fetcher's writeRun of ${f(h.store.quotes, 0)} quotes (${f(h.store.coins, 0)} coins x 3 currencies), runs 5 minutes apart, median of ${h.store.runs}:`,
    '',
    '| variant | median ms |',
    '| --- | --- |',
    `| without rollup maintenance (trigger disabled) | ${f(v.noRollupTrigger.medianMs)} |`,
    `| with the rollup trigger, default fillfactor (100) | ${f(v.rollupTriggerFillfactor100.medianMs)} |`,
    `| with the rollup trigger, fillfactor 50 on the rollups (as migrated) | ${f(v.rollupTriggerFillfactor50.medianMs)} |`,
    '',
    ...h.notes.map((n) => `- ${n}`),
    `- The machine's 1-minute load average (${h.machine.cpus} cores) at the start ${f(h.load.start, 2)}, after the store measure ${f(h.load.store, 2)}, after the load ${f(h.load.load, 2)}, after the API measures ${f(h.load.api, 2)}.`,
  ].join('\n');
}

// `tsx bench/history.ts`: prints the result and writes bench/results/history.json (and history-plans.txt).
if (process.argv[1]?.endsWith('history.ts')) {
  const days = process.env.HISTORY_BENCH_DAYS ? Number(process.env.HISTORY_BENCH_DAYS) : undefined;
  const result = await historyBenchmark({ adminDatabaseUrl: process.env.DATABASE_URL, ...(days ? { days } : {}) });
  await writeResult('history', result);
  process.stdout.write(`${historySection(result)}\n`);
  if (!result.reference.sameAnswers) process.exitCode = 1;
}
