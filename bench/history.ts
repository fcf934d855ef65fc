import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readContractOperations, REPO_ROOT, SUBGRAPH_SECRET_HEADER } from '@cryptoagg/core';
import { createDb, migrateLatest, type Knex } from '@cryptoagg/db';
import {
  scratchDatabase,
  serverInfo,
  startRedisServer,
  startServices,
  SUBGRAPH_SECRET,
  type RedisServer,
  type ScratchDatabase,
  type Services,
} from '@cryptoagg/testkit';
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';
import pg from 'pg';
import { historyPoints } from '../subgraphs/prices/src/data.js';
import type { HistoryPointModel, Interval } from '../subgraphs/prices/src/models.js';
import { DISTINCT_ON_SQL, historyPointsDistinctOn } from './lib/history-previous.js';
import { latency, machine, timed, type Latency } from './lib/measure.js';
import { RESULTS_DIR, writeResult } from './lib/results.js';

/**
 * History at scale: a year of 5-minute snapshots for 250 coins in one
 * currency (~26.3 million rows), generated with SQL into the real schema
 * (monthly partitions, the primary key as the only index), then the contract's
 * CoinHistory operation through the real gateway and subgraphs (separate
 * processes, Redis cache) for a year of DAY, 30 days of HOUR and a day of RAW:
 * cold cache (every request a coin not asked before) and warm (one request
 * repeated). Where the time goes is measured on the way down: the prices
 * subgraph alone, the coins subgraph alone, and the SQL alone (no API, no
 * cache), explained into bench/results/history-plans.txt, next to the SQL the
 * product used before its per-bucket probe (bench/lib/history-previous.ts),
 * whose answers must be identical.
 *
 * Generation is bounded: months are generated newest first, two at a time,
 * and no month is started once `generationBudgetMs` has passed, so on a slow
 * machine the data is the largest whole number of months that fit (reported
 * in `data`, never extrapolated).
 */

export interface HistoryOptions {
  /** DATABASE_URL's server for a private database; unset = an embedded PostgreSQL */
  adminDatabaseUrl?: string | undefined;
  /** default 250 */
  coins?: number;
  /** default 365 */
  days?: number;
  /** requests per case and cache state; default 50 */
  requests?: number;
  /** no new month is started after this long; default 150 s */
  generationBudgetMs?: number;
  /** where the EXPLAIN output goes; default bench/results/history-plans.txt */
  plansPath?: string;
}

export interface CaseResult {
  name: string;
  interval: Interval;
  from: string;
  to: string;
  /** points in every answer of the case */
  points: number;
  responseBytes: number;
  /** snapshot rows of one coin in the range the SQL reads */
  rowsInRange: number;
  gateway: {
    /** each request a coin not asked before: gateway, both subgraphs, Redis misses, PostgreSQL */
    cold: Latency;
    /** one request repeated, through the gateway as configured (its whole-response cache, when it has one, answers) */
    warm: Latency;
    /** one request repeated, through a gateway with RESPONSE_CACHE_TTL_MS=0: the subgraphs' Redis cache answers */
    warmSubgraphCache: Latency;
  };
  /** the prices subgraph alone (the `_entities` request the gateway sends it), Redis cache: the gateway's share is the difference */
  pricesSubgraph: { cold: Latency; warm: Latency };
  /** the SQL alone over a warm pool, each request a different coin: the product's, and the DISTINCT ON it replaced (for RAW the same query) */
  sql: Record<SqlVariant, Latency>;
  targetMet: boolean;
}

export interface HistoryResult {
  benchmark: 'history';
  startedAt: string;
  durationMs: number;
  machine: ReturnType<typeof machine> & { postgres: Record<string, string>; database: 'DATABASE_URL' | 'embedded' };
  data: {
    coins: number;
    currency: string;
    stepMinutes: number;
    requestedDays: number;
    /** false when the generation budget ran out before every month was generated */
    complete: boolean;
    days: number;
    from: string;
    to: string;
    rows: number;
    partitions: number;
    generateMs: number;
    rowsPerSecond: number;
    /** VACUUM (ANALYZE) of the new partitions and ANALYZE of the parent, after generation */
    vacuumAnalyzeMs: number;
    /** an explicit CHECKPOINT after the load (null when not allowed), so the measurements do not share the disk with it */
    checkpointMs: number | null;
    tableBytes: number;
    indexBytes: number;
  };
  requestsPerCase: number;
  cases: CaseResult[];
  target: { description: string; met: boolean; missed: string[] };
  /** the coins subgraph alone, `coin(id)` for coins it has not cached: the first hop of every CoinHistory */
  coinsSubgraphCold: Latency;
  /** the product's answers against the DISTINCT ON SQL it replaced, on every coin and case timed and on edge ranges */
  reference: { description: string; sameAnswers: boolean; checks: number };
  plansFile: string;
  notes: string[];
}

const CURRENCY = 'usd';
const STEP_MINUTES = 5;
const DAY_MS = 86_400_000;
const MAX_POINTS = 10_001; // the prices subgraph asks for MAX_HISTORY_POINTS + 1
const TARGET_P95_MS = 20;

const coinId = (n: number) => `bench-coin-${String(n).padStart(3, '0')}`;

function coinHistoryDocument(): string {
  // The contract's pinned copy.
  const document = parse(readContractOperations());
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && d.name?.value === 'CoinHistory');
  if (!operation) throw new Error('schema/contract/operations.graphql has no CoinHistory operation');
  return print(operation);
}

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

async function generate(url: string, coins: number, from: Date, to: Date, budgetMs: number) {
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'bench-history-generate' });
  try {
    await pool.query(
      `insert into coins (id, symbol, name, image, market_cap_rank)
       select 'bench-coin-' || lpad(c::text, 3, '0'), 'b' || c, 'Bench Coin ' || c, null, c from generate_series(1, $1::int) c`,
      [coins],
    );
    await pool.query('select ensure_quote_snapshot_partitions($1, $2)', [from, to]);
    const chunks = monthChunks(from, to);
    const done: { from: Date; to: Date; rows: number }[] = [];
    const started = performance.now();
    const worker = async () => {
      const client = await pool.connect();
      try {
        await client.query('set synchronous_commit = off');
        await client.query('set jit = off');
        for (let chunk = chunks.shift(); chunk; chunk = chunks.shift()) {
          if (performance.now() - started > budgetMs) break;
          const result = await client.query(GENERATE_SQL, [chunk.from, chunk.to, coins, CURRENCY]);
          done.push({ ...chunk, rows: result.rowCount ?? 0 });
        }
      } finally {
        client.release();
      }
    };
    await Promise.all([worker(), worker()]);
    const generateMs = performance.now() - started;
    // Newest first, two at a time: what was done is contiguous up to `to` unless the budget cut between two in flight.
    done.sort((a, b) => b.from.getTime() - a.from.getTime());
    let earliest = to;
    for (const chunk of done) if (chunk.to.getTime() === earliest.getTime()) earliest = chunk.from;

    const vacuum = await timed(async () => {
      const { rows } = await pool.query<{ name: string }>(
        `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = 'quote_snapshots'::regclass order by 1`,
      );
      const names = rows.map((r) => r.name);
      await Promise.all(
        [0, 1].map(async () => {
          for (let name = names.shift(); name; name = names.shift()) await pool.query(`vacuum (analyze) ${name}`);
        }),
      );
      await pool.query('analyze quote_snapshots');
      await pool.query('analyze coins');
    });
    // Flush the load's dirty pages now, so the checkpointer does not write gigabytes in the background of the measurements.
    const checkpoint = await timed(() =>
      pool.query('checkpoint').then(
        () => true,
        () => false,
      ),
    );
    const { rows: sizes } = await pool.query<{ table_bytes: string; index_bytes: string; partitions: number }>(
      `select sum(pg_table_size(i.inhrelid))::bigint as table_bytes, sum(pg_indexes_size(i.inhrelid))::bigint as index_bytes,
              count(*) filter (where c.reltuples > 0)::int as partitions
         from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'quote_snapshots'::regclass`,
    );
    return {
      rows: done.reduce((sum, c) => sum + c.rows, 0),
      from: earliest,
      complete: earliest.getTime() === from.getTime(),
      generateMs,
      vacuumAnalyzeMs: vacuum.ms,
      checkpointMs: checkpoint.value ? checkpoint.ms : null,
      tableBytes: Number(sizes[0]?.table_bytes ?? 0),
      indexBytes: Number(sizes[0]?.index_bytes ?? 0),
      partitions: sizes[0]?.partitions ?? 0,
    };
  } finally {
    await pool.end();
  }
}

interface Case {
  name: string;
  interval: Interval;
  from: Date;
  to: Date;
}

interface GraphQLAnswer {
  data?: { coin: { id: string; history: unknown[] } | null };
  errors?: { message: string }[];
}

async function coinHistory(gatewayUrl: string, document: string, id: string, c: Case): Promise<{ ms: number; points: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: document,
      operationName: 'CoinHistory',
      variables: { id, currency: CURRENCY, from: c.from.toISOString(), to: c.to.toISOString(), interval: c.interval },
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const body = JSON.parse(text) as GraphQLAnswer;
  const ms = performance.now() - started;
  if (response.status !== 200 || body.errors || !body.data?.coin) throw new Error(`CoinHistory ${c.name} ${id}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return { ms, points: body.data.coin.history.length, bytes: Buffer.byteLength(text) };
}

const ENTITIES_DOCUMENT = `query ($representations: [_Any!]!, $currency: String, $from: DateTime!, $to: DateTime!, $interval: Interval) {
  _entities(representations: $representations) {
    ... on Coin { history(currency: $currency, from: $from, to: $to, interval: $interval) { time price marketCap totalVolume } }
  }
}`;

/** What the gateway asks the prices subgraph for one CoinHistory, sent straight to it. */
async function pricesEntities(pricesUrl: string, id: string, c: Case): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${pricesUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SUBGRAPH_SECRET_HEADER]: SUBGRAPH_SECRET },
    body: JSON.stringify({
      query: ENTITIES_DOCUMENT,
      variables: {
        representations: [{ __typename: 'Coin', id }],
        currency: CURRENCY,
        from: c.from.toISOString(),
        to: c.to.toISOString(),
        interval: c.interval,
      },
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  const body = JSON.parse(text) as { data?: { _entities: { history: unknown[] }[] }; errors?: unknown[] };
  if (response.status !== 200 || body.errors || !body.data?._entities[0]?.history.length) {
    throw new Error(`prices _entities ${c.name} ${id}: HTTP ${response.status} ${text.slice(0, 300)}`);
  }
  return ms;
}

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
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${captured.sql}`, captured.bindings);
  const params = captured.bindings.map((b, i) => `$${i + 1} = ${b instanceof Date ? b.toISOString() : JSON.stringify(b)}`).join(', ');
  return `${captured.sql.trim()}\n-- ${params}\n\n${rows.map((r) => r['QUERY PLAN']).join('\n')}`;
}

type HistoryQuery = { coinId: string; currency: string; from: Date; to: Date; interval: Interval };

/** The SQL alone, no API and no cache: the product's, and the DISTINCT ON it replaced. */
const SQL_VARIANTS = {
  product: (db: Knex, query: HistoryQuery) => historyPoints(db, query, MAX_POINTS),
  previousDistinctOn: (db: Knex, query: HistoryQuery) => historyPointsDistinctOn(db, query, MAX_POINTS),
};
type SqlVariant = keyof typeof SQL_VARIANTS;

const sameAnswer = (a: HistoryPointModel[], b: HistoryPointModel[]) => JSON.stringify(a) === JSON.stringify(b);

export async function historyBenchmark(options: HistoryOptions = {}): Promise<HistoryResult> {
  const startedAt = new Date();
  const coins = options.coins ?? 250;
  const requestedDays = options.days ?? 365;
  const requests = options.requests ?? 50;
  const plansPath = options.plansPath ?? path.join(RESULTS_DIR, 'history-plans.txt');
  const notes: string[] = [];
  const document = coinHistoryDocument();
  // Coins 1..3n: the API's cold requests (n per case); 3n+1..4n: the SQL timing, the prices subgraph's cold requests and
  // the JIT-off run; the last 11: warm-up, the warm request and the plans.
  if (coins < 4 * requests + 11) throw new Error(`needs at least ${4 * requests + 11} coins for ${requests} requests per case`);

  const now = new Date();
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const from = new Date(to.getTime() - requestedDays * DAY_MS);

  let database: ScratchDatabase | undefined;
  let db: Knex | undefined;
  let client: pg.Client | undefined;
  let redis: RedisServer | undefined;
  let services: Services | undefined;
  try {
    database = await scratchDatabase(options.adminDatabaseUrl, 'bench_history');
    const knex = createDb({ url: database.url, poolMax: 2, applicationName: 'bench-history' });
    db = knex;
    await migrateLatest(knex);
    const postgres = await serverInfo(database.url);
    const generated = await generate(database.url, coins, from, to, options.generationBudgetMs ?? 150_000);
    const days = Math.round((to.getTime() - generated.from.getTime()) / DAY_MS);
    if (!generated.complete) {
      notes.push(
        `the generation budget ran out: measured on ${days} days (${generated.rows} rows), not the ${requestedDays} asked for; nothing is extrapolated`,
      );
    }

    const cases: Case[] = [
      { name: `DAY ${requestedDays} days`, interval: 'DAY', from: new Date(to.getTime() - requestedDays * DAY_MS), to },
      { name: 'HOUR 30 days', interval: 'HOUR', from: new Date(to.getTime() - 30 * DAY_MS), to },
      { name: 'RAW 1 day', interval: 'RAW', from: new Date(to.getTime() - DAY_MS), to },
    ];

    // The SQL alone, the product's and the previous, on coins the API benchmark does not use; answers compared.
    client = new pg.Client({ connectionString: database.url, application_name: 'bench-history-explain' });
    await client.connect();
    const sqlCoins = Array.from({ length: requests }, (_, i) => coinId(3 * requests + 1 + i));
    let checks = 0;
    let sameAnswers = true;
    const variants = Object.keys(SQL_VARIANTS) as SqlVariant[];
    const sql: Record<string, Record<SqlVariant, Latency>> = {};
    for (const c of cases) {
      const samples = Object.fromEntries(variants.map((v) => [v, [] as number[]])) as Record<SqlVariant, number[]>;
      for (const [i, id] of sqlCoins.entries()) {
        const query = { coinId: id, currency: CURRENCY, from: c.from, to: c.to, interval: c.interval };
        // Rotate which goes first, so none always finds the others' pages in cache.
        const order = variants.map((_, j) => variants[(i + j) % variants.length]!);
        const answers: HistoryPointModel[][] = [];
        for (const variant of order) {
          const { ms, value } = await timed(() => SQL_VARIANTS[variant](knex, query));
          samples[variant].push(ms);
          answers.push(value);
        }
        checks += 1;
        if (answers.some((a) => !sameAnswer(a, answers[0]!))) sameAnswers = false;
      }
      sql[c.name] = Object.fromEntries(variants.map((v) => [v, latency(samples[v])])) as Record<SqlVariant, Latency>;
    }
    // Edges: unaligned bounds, a range past the data, a range with no data, a single instant.
    const edgeId = sqlCoins[0]!;
    const edges: [Date, Date][] = [
      [new Date(to.getTime() - 10 * DAY_MS + 1), new Date(to.getTime() - 3 * DAY_MS - 1)],
      [new Date(to.getTime() - 2 * DAY_MS - 3_600_000 - 1), new Date(to.getTime() + 40 * DAY_MS)],
      [new Date(generated.from.getTime() - 20 * DAY_MS), new Date(generated.from.getTime() + DAY_MS + 1)],
      [new Date(generated.from.getTime() - 400 * DAY_MS), new Date(generated.from.getTime() - 300 * DAY_MS)],
      [new Date(to.getTime() - 5 * DAY_MS), new Date(to.getTime() - 5 * DAY_MS)],
    ];
    for (const interval of ['HOUR', 'DAY'] as const) {
      for (const [f, t] of edges) {
        const query = { coinId: edgeId, currency: CURRENCY, from: f, to: t, interval };
        checks += 1;
        if (!sameAnswer(await historyPoints(db, query, MAX_POINTS), await historyPointsDistinctOn(db, query, MAX_POINTS))) sameAnswers = false;
      }
    }

    // The plans, on a coin of their own (its pages not yet read by these queries).
    const planId = coinId(coins);
    const plans: string[] = [
      `-- EXPLAIN (ANALYZE, BUFFERS) of the prices subgraph's historyPoints SQL (subgraphs/prices/src/data.ts), captured from knex,`,
      `-- then of the DISTINCT ON SQL it replaced for HOUR and DAY (bench/lib/history-previous.ts), for comparison.`,
      `-- ${generated.rows} rows: ${coins} coins x ${days} days of ${STEP_MINUTES}-minute snapshots, ${CURRENCY}; PostgreSQL ${postgres.version}; ${startedAt.toISOString()}`,
      `-- each query ran once just before its EXPLAIN (to capture its SQL and parameters), so its pages are in shared buffers: the plans show work, not I/O`,
      '',
    ];
    for (const c of cases) {
      const query = { coinId: planId, currency: CURRENCY, from: c.from, to: c.to, interval: c.interval };
      plans.push(
        `==== product: ${c.name} (coin ${planId}, ${c.from.toISOString()} .. ${c.to.toISOString()})`,
        await explain(db, client, (k) => historyPoints(k, query, MAX_POINTS)),
        '',
      );
    }
    for (const c of cases.filter((x) => x.interval !== 'RAW')) {
      const query = { coinId: planId, currency: CURRENCY, from: c.from, to: c.to, interval: c.interval };
      plans.push(
        `==== previous (DISTINCT ON): ${c.name} (coin ${planId})`,
        await explain(db, client, (k) => historyPointsDistinctOn(k, query, MAX_POINTS)),
        '',
      );
    }
    mkdirSync(path.dirname(plansPath), { recursive: true });
    writeFileSync(plansPath, `${plans.join('\n')}\n`);
    const rowsInRange: Record<string, number> = {};
    for (const c of cases) {
      const { rows } = await client.query<{ n: number }>(
        'select count(*)::int as n from quote_snapshots where coin_id = $1 and currency = $2 and last_updated between $3 and $4',
        [planId, CURRENCY, c.from, c.to],
      );
      rowsInRange[c.name] = rows[0]?.n ?? 0;
    }

    // The API: gateway (as configured, and without its whole-response cache) over both subgraphs and Redis.
    redis = await startRedisServer();
    services = await startServices({
      databaseUrl: database.url,
      redisUrl: redis.url,
      gateways: { configured: {}, noResponseCache: { RESPONSE_CACHE_TTL_MS: '0' } },
    });
    const { configured, noResponseCache } = services.gateways as { configured: string; noResponseCache: string };
    // Warm-up of every process on coins the measurements do not use.
    for (let i = 0; i < 10; i += 1) {
      for (const c of cases) {
        for (const gateway of [configured, noResponseCache]) await coinHistory(gateway, document, coinId(coins - 1 - (i % 10)), c);
      }
    }

    // The coins subgraph alone, the first hop of every CoinHistory, on coins it has not cached.
    const coinsCold: number[] = [];
    for (const id of sqlCoins) {
      const started = performance.now();
      const response = await fetch(`${services.url('coins')}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SUBGRAPH_SECRET_HEADER]: SUBGRAPH_SECRET },
        body: JSON.stringify({ query: 'query ($id: ID!) { coin(id: $id) { __typename id } }', variables: { id } }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      coinsCold.push(performance.now() - started);
      if (response.status !== 200 || !text.includes(id)) throw new Error(`coins subgraph coin(${id}): HTTP ${response.status} ${text.slice(0, 300)}`);
    }

    const results: CaseResult[] = [];
    for (const [index, c] of cases.entries()) {
      const cold: number[] = [];
      const points = new Set<number>();
      let bytes = 0;
      for (let i = 0; i < requests; i += 1) {
        const answer = await coinHistory(configured, document, coinId(1 + index * requests + i), c);
        cold.push(answer.ms);
        points.add(answer.points);
        bytes = answer.bytes;
      }
      const warmId = coinId(coins - 11);
      const repeat = async (gateway: string) => {
        await coinHistory(gateway, document, warmId, c);
        const samples: number[] = [];
        for (let i = 0; i < requests; i += 1) {
          const answer = await coinHistory(gateway, document, warmId, c);
          samples.push(answer.ms);
          points.add(answer.points);
        }
        return latency(samples);
      };
      // The prices subgraph alone: cold on the coins of the SQL timing (never asked through the API), warm on one repeated.
      const subgraphCold: number[] = [];
      for (const id of sqlCoins) subgraphCold.push(await pricesEntities(services.url('prices'), id, c));
      await pricesEntities(services.url('prices'), warmId, c);
      const subgraphWarm: number[] = [];
      for (let i = 0; i < requests; i += 1) subgraphWarm.push(await pricesEntities(services.url('prices'), warmId, c));
      const warm = await repeat(configured);
      const warmSubgraphCache = await repeat(noResponseCache);
      if (points.size !== 1) notes.push(`${c.name}: answers had different point counts (${[...points].join(', ')})`);
      const gateway = { cold: latency(cold), warm, warmSubgraphCache };
      results.push({
        name: c.name,
        interval: c.interval,
        from: c.from.toISOString(),
        to: c.to.toISOString(),
        points: Math.max(...points),
        responseBytes: bytes,
        rowsInRange: rowsInRange[c.name] ?? 0,
        gateway,
        pricesSubgraph: { cold: latency(subgraphCold), warm: latency(subgraphWarm) },
        sql: sql[c.name]!,
        targetMet: Object.values(gateway).every((l) => l.p95 < TARGET_P95_MS),
      });
    }

    const missed = results.flatMap((r) =>
      Object.entries(r.gateway)
        .filter(([, l]) => l.p95 >= TARGET_P95_MS)
        .map(([state, l]) => `${r.name} ${state}: p95 ${l.p95} ms`),
    );
    notes.push(
      'cold = a coin never asked before (the coins and prices subgraphs miss Redis and query PostgreSQL); the database pages may still be in the OS page cache after generation (shared_buffers is small, the machine has plenty of RAM).',
      'requests are sequential (one in flight), from this process over loopback; gateway, subgraphs, Redis, PostgreSQL and this client share the machine.',
      `warm goes through the gateway as configured, which may answer from its own whole-response cache (RESPONSE_CACHE_TTL_MS, when the gateway has it); warmSubgraphCache through a second gateway with RESPONSE_CACHE_TTL_MS=0.`,
    );
    return {
      benchmark: 'history',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      machine: { ...machine(), postgres, database: database.server },
      data: {
        coins,
        currency: CURRENCY,
        stepMinutes: STEP_MINUTES,
        requestedDays,
        complete: generated.complete,
        days,
        from: generated.from.toISOString(),
        to: to.toISOString(),
        rows: generated.rows,
        partitions: generated.partitions,
        generateMs: Math.round(generated.generateMs),
        rowsPerSecond: Math.round((generated.rows / generated.generateMs) * 1000),
        vacuumAnalyzeMs: Math.round(generated.vacuumAnalyzeMs),
        checkpointMs: generated.checkpointMs === null ? null : Math.round(generated.checkpointMs),
        tableBytes: generated.tableBytes,
        indexBytes: generated.indexBytes,
      },
      requestsPerCase: requests,
      cases: results,
      target: { description: `p95 < ${TARGET_P95_MS} ms for every case, cold and warm`, met: missed.length === 0, missed },
      coinsSubgraphCold: latency(coinsCold),
      reference: {
        description: `the product's HOUR/DAY answers against the DISTINCT ON SQL it replaced (${DISTINCT_ON_SQL.length} chars, bench/lib/history-previous.ts)`,
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

// `tsx bench/history.ts`: prints the result and writes bench/results/history.json (and history-plans.txt).
if (process.argv[1]?.endsWith('history.ts')) {
  const result = await historyBenchmark({ adminDatabaseUrl: process.env.DATABASE_URL });
  await writeResult('history', result);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!result.reference.sameAnswers) process.exitCode = 1;
}
