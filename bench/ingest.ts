import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLogger, parseConfig } from '@cryptoagg/core';
import { createDb, migrateLatest, QUOTE_COLUMNS, type Knex, type QuoteRow } from '@cryptoagg/db';
import { startFakeCoinGecko } from '@cryptoagg/fake-upstream';
import { freePort, scratchDatabase, serverInfo, startScript, type RunningProcess } from '@cryptoagg/testkit';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { fetcherConfigSchema } from '../jobs/fetcher/src/config.js';
import { coinFromItem, quoteFromItem, runFetch } from '../jobs/fetcher/src/run.js';
import { COIN_UPSERT_COLUMNS, ensurePartitions, QUOTE_COLUMN_LIST, startRun, writeRun, type CoinUpsert, type RunWrite } from '../jobs/fetcher/src/store.js';
import { marketItemSchema } from '../jobs/fetcher/src/upstream/schemas.js';
import { machine, median, round, run, timed } from './lib/measure.js';
import { writeResult } from './lib/results.js';
import { writeRunUnnest } from './lib/store-previous.js';

/**
 * Ingest: the fetcher's store path against the floor of bulk loading.
 *
 * One fetcher run of 5,000 coins x 3 currencies (15,000 snapshots, 15,000
 * latest quotes, 5,000 coins) from the fake upstream into an empty migrated
 * database, timed whole and in its store phase; `writeRun` alone with the
 * identical rows (no HTTP); and raw `COPY quote_snapshots FROM STDIN` of the
 * same rows: in process over node-postgres (pg-copy-streams, text format) and
 * through psql's `\copy` (psql's start-up, timed with `select 1`, subtracted). Each is
 * repeated after one untimed warm-up and the median reported; every
 * repetition starts from truncated tables.
 *
 * writeRun does more than that COPY: in one transaction it also upserts the
 * coins and the latest quotes (and updates the run record, and NOTIFYs), so
 * `copyAllTables` (COPY of coins, snapshots and latest quotes in one
 * transaction) is the like-for-like floor, `copySnapshots` the strict one.
 * Where the time goes is measured too (per statement of writeRun, per table of
 * the COPY, the cost of latest_quotes' foreign key), next to the writeRun the
 * product used before its quotes went by COPY (column arrays bound to one
 * statement, bench/lib/store-previous.ts), which must store identical rows.
 */

export interface IngestOptions {
  /** DATABASE_URL's server for a private database; unset = an embedded PostgreSQL */
  adminDatabaseUrl?: string | undefined;
  /** coins per currency (FETCH_MAX_COINS); default 5000 */
  coins?: number;
  /** default usd, eur, btc */
  currencies?: string[];
  /** timed repetitions of each measure (after one untimed warm-up); default 5 (medians of 3 moved by ±30% between runs on 2 cores) */
  repeats?: number;
}

export interface Measure {
  /** median of the samples, ms */
  ms: number;
  samples: number[];
  /** snapshot rows (15,000) per second at the median */
  rowsPerSecond: number;
}

export interface IngestResult {
  benchmark: 'ingest';
  startedAt: string;
  durationMs: number;
  machine: ReturnType<typeof machine> & { postgres: Record<string, string>; database: 'DATABASE_URL' | 'embedded' };
  setup: { coins: number; currencies: string[]; rows: { snapshots: number; latestQuotes: number; coins: number }; repeats: number; upstream: string };
  /** every method stored the same snapshot rows (count and digest of every column but fetched_at) */
  identicalRows: boolean;
  digest: string;
  measures: {
    /** runFetch end to end: lock, 60 page requests to the fake, validation, partitions, writeRun, unlock */
    run: Measure;
    /** the store phase inside runFetch: from its ensurePartitions statement to runFetch's return (commit and lock release included) */
    runStorePhase: Measure;
    /** the rest of the run: lock, the 60 requests, validation */
    runFetchPhase: Measure;
    /** the 60 page requests alone (plain fetch + JSON parse, sequential like the fetcher), the upstream's share */
    upstreamOnly: Measure;
    /** writeRun alone into empty tables (coins and latest quotes inserted) */
    writeRun: Measure;
    /** writeRun of the next round over the previous one: the every-5-minutes case (coins and latest quotes updated) */
    writeRunSteady: Measure;
    /** COPY quote_snapshots FROM STDIN, in process (rows pre-formatted) */
    copySnapshots: Measure;
    /** COPY coins, quote_snapshots and latest_quotes in one transaction, in process: what writeRun stores */
    copyAllTables: Measure;
    /** psql \copy of quote_snapshots from a file, minus psql's own start-up (a `select 1` run); null without psql */
    copyPsql: (Measure & { psqlStartupMs: number }) | null;
    /** the first, untimed run of this process (cold code paths), for information */
    firstRunMs: number;
  };
  /** medians in ms of the parts */
  breakdown: {
    /** writeRun's knex statements by what they write (`quotes` = snapshots, latest quotes and listing from the temporary table); the rest is BEGIN, the COPY of the quotes into the temporary table, COMMIT and the client */
    writeRun: Record<string, number>;
    copyAllTables: { coins: number; snapshots: number; latestQuotes: number; commit: number };
    /** COPY of the latest quotes with their foreign key to coins dropped (measured last, on the private database) */
    latestQuotesCopyWithoutForeignKey: number;
  };
  /** alternatives, same rows (checked), as evidence for the product's store */
  alternatives: {
    /** writeRun before COPY: the quotes as twelve column arrays bound to one statement (`unnest`), bench/lib/store-previous.ts */
    beforeCopy: Measure & { toCopy: number; toCopyAllTables: number; writeRunSpeedup: number };
    /** the product's writeRun with latest_quotes' foreign key to coins dropped (a schema change, measured last on the private database) */
    writeRunWithoutLatestQuotesForeignKey: Measure & { toCopy: number; toCopyAllTables: number };
  };
  ratios: {
    /** rows/s of writeRun over rows/s of the in-process COPY of the snapshots: the target is >= 0.5 */
    writeRunToCopy: number;
    runToCopy: number;
    runStorePhaseToCopy: number;
    writeRunToCopyAllTables: number;
    writeRunToCopyPsql: number | null;
    runToCopyPsql: number | null;
  };
  target: { description: string; met: boolean; metAgainstPsqlFloor: boolean | null; metAgainstLikeForLike: boolean };
  notes: string[];
}

const COIN_LIST = COIN_UPSERT_COLUMNS.join(', ');
/** What two stores of the same rows must agree on: every column but when each run fetched them. */
const COMPARED_LIST = QUOTE_COLUMNS.filter((c) => c !== 'fetched_at').join(', ');
const TRUNCATE = 'truncate coins, latest_quotes, quote_snapshots, fetch_runs restart identity';
const PAGE_SIZE = 250;

interface Rows {
  coins: CoinUpsert[];
  quotes: QuoteRow[];
}

/** The rows a run stores, built from the fake's items exactly as run.ts builds them. */
function buildRows(markets: (currency: string) => unknown[], currencies: string[], maxCoins: number): Rows {
  const coins = new Map<string, CoinUpsert>();
  const quotes: QuoteRow[] = [];
  const fetchedAt = new Date();
  for (const currency of currencies) {
    const seen = new Set<string>();
    for (const raw of markets(currency)) {
      const parsed = marketItemSchema.safeParse(raw);
      if (!parsed.success || seen.has(parsed.data.id) || seen.size >= maxCoins) continue;
      const item = parsed.data;
      seen.add(item.id);
      if (!coins.has(item.id)) coins.set(item.id, coinFromItem(item));
      quotes.push(quoteFromItem(item, currency, fetchedAt));
    }
  }
  return { coins: [...coins.values()], quotes };
}

/** Runs `sql` (a `COPY ... FROM STDIN`) with `data`; resolves with the row count. */
async function copyFromStdin(client: pg.ClientBase, sql: string, data: string): Promise<number> {
  const copy = client.query(copyFrom(sql));
  await pipeline(Readable.from([Buffer.from(data)]), copy);
  return copy.rowCount;
}

/** One value in COPY's text format: \N for null, backslash escapes for the characters that matter. */
function copyValue(value: string | number | Date | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return String(value);
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Rows in COPY's text format (tab-separated, one row a line). */
function copyText(rows: readonly (readonly (string | number | Date | null | undefined)[])[]): string {
  let text = '';
  for (const row of rows) text += `${row.map(copyValue).join('\t')}\n`;
  return text;
}

async function digest(client: pg.ClientBase, table = 'quote_snapshots'): Promise<string> {
  const { rows } = await client.query<{ n: number; md5: string }>(
    `select count(*)::int as n, md5(string_agg((${COMPARED_LIST})::text, ',' order by coin_id, currency, last_updated)) as md5
       from ${table}`,
  );
  return `${rows[0]?.n}:${rows[0]?.md5}`;
}

function findPsql(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin'];
  return dirs.map((d) => path.join(d, 'psql')).find((p) => existsSync(p));
}

/** The fake upstream in a process of its own, as a real upstream is: its JSON work does not share the fetcher's event loop. */
async function startUpstream(coins: number): Promise<{ url: string; process: RunningProcess }> {
  const port = await freePort();
  const child = startScript('tools/fake-upstream/src/main.ts', {
    FAKE_COINGECKO_PORT: String(port),
    FAKE_COINGECKO_COINS: String(coins),
    FAKE_COINGECKO_ROUND_SECONDS: '0',
  });
  const deadline = Date.now() + 30_000;
  while (!child.output().includes('listening on')) {
    if (child.child.exitCode !== null || Date.now() > deadline) {
      child.child.kill('SIGTERM');
      throw new Error(`the fake upstream did not start:\n${child.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `http://127.0.0.1:${port}/api/v3`, process: child };
}

/** The pages the fetcher asks for, fetched the same way (one after the other) without validation or storage. */
async function fetchPages(baseUrl: string, currencies: string[], maxCoins: number): Promise<number> {
  let items = 0;
  for (const currency of currencies) {
    for (let page = 1; page <= Math.ceil(maxCoins / PAGE_SIZE); page += 1) {
      const query = new URLSearchParams({
        vs_currency: currency,
        order: 'market_cap_desc',
        per_page: String(PAGE_SIZE),
        page: String(page),
        sparkline: 'false',
        price_change_percentage: '24h',
      });
      const response = await fetch(`${baseUrl}/coins/markets?${query.toString()}`);
      const data = (await response.json()) as unknown[];
      items += data.length;
    }
  }
  return items;
}

function measure(samples: number[], rows: number): Measure {
  const ms = median(samples);
  return { ms: round(ms, 1), samples: samples.map((s) => round(s, 1)), rowsPerSecond: Math.round((rows / ms) * 1000) };
}

/** Times each knex statement (query to query-response), by a label taken from its SQL. */
function statementTimer(db: Knex, label: (sql: string) => string | undefined) {
  const started = new Map<string, number>();
  let current: Record<string, number> = {};
  db.on('query', (query: { __knexQueryUid?: string }) => {
    if (query.__knexQueryUid) started.set(query.__knexQueryUid, performance.now());
  });
  db.on('query-response', (_response: unknown, query: { __knexQueryUid?: string; sql?: string }) => {
    const at = query.__knexQueryUid ? started.get(query.__knexQueryUid) : undefined;
    const name = label(query.sql ?? '');
    if (at === undefined || !name) return;
    current[name] = (current[name] ?? 0) + performance.now() - at;
  });
  return {
    reset: () => void (current = {}),
    take: () => current,
  };
}

export async function ingestBenchmark(options: IngestOptions = {}): Promise<IngestResult> {
  const startedAt = new Date();
  const coinsPerCurrency = options.coins ?? 5_000;
  const currencies = options.currencies ?? ['usd', 'eur', 'btc'];
  const repeats = options.repeats ?? 5;
  const notes: string[] = [];

  const database = await scratchDatabase(options.adminDatabaseUrl, 'bench_ingest');
  const db: Knex = createDb({ url: database.url, poolMax: 2, applicationName: 'bench-ingest' });
  const client = new pg.Client({ connectionString: database.url, application_name: 'bench-ingest-copy' });
  const fake = await startFakeCoinGecko({ coins: coinsPerCurrency, currencies });
  let upstream: { url: string; process: RunningProcess } | undefined;
  const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-bench-ingest-'));
  try {
    await migrateLatest(db);
    await client.connect();
    upstream = await startUpstream(coinsPerCurrency);
    const upstreamUrl = upstream.url;
    const postgres = await serverInfo(database.url);

    const parsed = parseConfig(fetcherConfigSchema, {
      DATABASE_URL: database.url,
      COINGECKO_BASE_URL: upstream.url,
      COINGECKO_RATE_LIMIT_PER_MIN: '10000',
      FETCH_CURRENCIES: currencies.join(','),
      FETCH_MAX_COINS: String(coinsPerCurrency),
      FETCH_METADATA_PER_RUN: '0',
      MIGRATE_ON_START: 'false',
      // The CoinGecko ingest alone is measured: no exchange source.
      EXCHANGE_SOURCES: 'none',
      LOG_LEVEL: 'silent',
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    const config = parsed.config;
    const logger = createLogger('bench-ingest', 'silent');

    // The identical rows, for writeRun and the COPYs: round 0 is what the fetcher gets from the fake (checked by digest).
    const round0 = buildRows((c) => fake.markets(c), currencies, coinsPerCurrency);
    fake.setRound(1);
    const round1 = buildRows((c) => fake.markets(c), currencies, coinsPerCurrency);
    const rows = round0.quotes.length;
    const key = (q: QuoteRow) => `${q.coin_id}|${q.currency}|${q.last_updated.getTime()}`;
    const round0Keys = new Set(round0.quotes.map(key));
    // A stale coin keeps its last_updated between rounds: its snapshot is not new.
    const newInRound1 = round1.quotes.filter((q) => !round0Keys.has(key(q))).length;
    const snapshotsText = copyText(round0.quotes.map((q) => QUOTE_COLUMNS.map((c) => q[c])));
    const coinsText = copyText(round0.coins.map((c) => COIN_UPSERT_COLUMNS.map((column) => c[column])));
    const snapshotsFile = path.join(scratch, 'snapshots.tsv');
    writeFileSync(snapshotsFile, snapshotsText);
    const times = round0.quotes.concat(round1.quotes).map((q) => q.last_updated.getTime());
    await ensurePartitions(db, new Date(Math.min(...times)), new Date(Math.max(...times)));

    const truncate = () => client.query(TRUNCATE);
    const counts = { requests: 0, items_received: rows, items_skipped: 0, metadata_updated: 0, metadata_skipped: 0, upstream_errors: {} };
    const write = async (data: Rows, store: typeof writeRun = writeRun) => {
      const runId = await startRun(db, currencies);
      const runWrite: RunWrite = { runId, coins: data.coins, quotes: data.quotes, metadata: [], counts };
      return timed(() => store(db, runWrite));
    };

    // The store phase inside runFetch starts with its ensurePartitions statement.
    let storeStartedAt = 0;
    db.on('query', (query: { sql?: string }) => {
      if (query.sql?.startsWith('select ensure_quote_snapshot_partitions')) storeStartedAt = performance.now();
    });
    const statements = statementTimer(db, (sql) => {
      if (sql.includes('insert into coins')) return 'coins';
      if (sql.includes('create temp table')) return 'tempTable';
      if (sql.includes('insert into quote_snapshots') || sql.includes('insert into latest_quotes')) return 'quotes';
      if (sql.includes('update "fetch_runs"') || sql.includes('pg_notify')) return 'runRecordAndNotify';
      return undefined;
    });

    const psql = findPsql();
    if (!psql) notes.push('psql is not installed: the psql \\copy floor was skipped');
    const psqlArgs = (command: string) => ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', database.url, '-c', command];

    const samples = {
      run: [] as number[],
      runStorePhase: [] as number[],
      upstreamOnly: [] as number[],
      writeRun: [] as number[],
      writeRunSteady: [] as number[],
      beforeCopy: [] as number[],
      withoutForeignKey: [] as number[],
      copySnapshots: [] as number[],
      copyAllTables: [] as number[],
      copyPsqlGross: [] as number[],
      psqlStartup: [] as number[],
    };
    const parts = { writeRun: [] as Record<string, number>[], copyAllTables: [] as Record<string, number>[] };
    const digests = new Set<string>();
    const latestDigests = new Set<string>();
    let firstRunMs = Number.NaN;

    // Repetition 0 is the warm-up: its numbers are not counted (but its rows are checked).
    for (let rep = 0; rep <= repeats; rep += 1) {
      const keep = (name: keyof typeof samples, ms: number) => void (rep > 0 && samples[name].push(ms));

      await truncate();
      const fetched = await timed(() => runFetch({ config, db, databaseUrl: database.url, logger }));
      const runEnd = performance.now();
      if (fetched.value.snapshotsInserted !== rows) throw new Error(`the run stored ${fetched.value.snapshotsInserted} snapshots, expected ${rows}`);
      if (rep === 0) firstRunMs = round(fetched.ms, 1);
      keep('run', fetched.ms);
      keep('runStorePhase', runEnd - storeStartedAt);
      if (rep <= 1) digests.add(await digest(client));
      if (rep <= 1) latestDigests.add(await digest(client, 'latest_quotes'));

      const pages = await timed(() => fetchPages(upstreamUrl, currencies, coinsPerCurrency));
      if (pages.value !== rows) throw new Error(`the upstream served ${pages.value} items, expected ${rows}`);
      keep('upstreamOnly', pages.ms);

      await truncate();
      statements.reset();
      const stored = await write(round0);
      if (stored.value.snapshotsInserted !== rows) throw new Error(`writeRun stored ${stored.value.snapshotsInserted} snapshots, expected ${rows}`);
      keep('writeRun', stored.ms);
      const taken = statements.take();
      if (rep > 0) {
        const sum = Object.values(taken).reduce((a, b) => a + b, 0);
        parts.writeRun.push({ ...taken, copyBeginCommitAndClient: stored.ms - sum });
      }
      if (rep <= 1) digests.add(await digest(client));
      if (rep <= 1) latestDigests.add(await digest(client, 'latest_quotes'));

      const steady = await write(round1);
      if (steady.value.snapshotsInserted !== newInRound1)
        throw new Error(`the steady-state writeRun stored ${steady.value.snapshotsInserted} snapshots, expected ${newInRound1}`);
      keep('writeRunSteady', steady.ms);

      await truncate();
      const previous = await write(round0, writeRunUnnest);
      if (previous.value.snapshotsInserted !== rows)
        throw new Error(`writeRun before COPY stored ${previous.value.snapshotsInserted} snapshots, expected ${rows}`);
      keep('beforeCopy', previous.ms);
      if (rep <= 1) digests.add(await digest(client));
      if (rep <= 1) latestDigests.add(await digest(client, 'latest_quotes'));

      await truncate();
      const copied = await timed(() => copyFromStdin(client, `copy quote_snapshots (${QUOTE_COLUMN_LIST}) from stdin`, snapshotsText));
      if (copied.value !== rows) throw new Error(`COPY stored ${copied.value} rows, expected ${rows}`);
      keep('copySnapshots', copied.ms);
      if (rep <= 1) digests.add(await digest(client));

      await truncate();
      const marks: number[] = [];
      const all = await timed(async () => {
        await client.query('begin');
        marks.push(performance.now());
        await copyFromStdin(client, `copy coins (${COIN_LIST}) from stdin`, coinsText);
        marks.push(performance.now());
        await copyFromStdin(client, `copy quote_snapshots (${QUOTE_COLUMN_LIST}) from stdin`, snapshotsText);
        marks.push(performance.now());
        await copyFromStdin(client, `copy latest_quotes (${QUOTE_COLUMN_LIST}) from stdin`, snapshotsText);
        marks.push(performance.now());
        await client.query('commit');
        marks.push(performance.now());
      });
      keep('copyAllTables', all.ms);
      if (rep > 0) {
        const [begun = 0, coins = 0, snapshots = 0, latest = 0, committed = 0] = marks;
        parts.copyAllTables.push({ coins: coins - begun, snapshots: snapshots - coins, latestQuotes: latest - snapshots, commit: committed - latest });
      }
      if (rep <= 1) latestDigests.add(await digest(client, 'latest_quotes'));

      if (psql) {
        const startup = await timed(() => run(psql, psqlArgs('select 1')));
        keep('psqlStartup', startup.ms);
        await truncate();
        const gross = await timed(() => run(psql, psqlArgs(`\\copy quote_snapshots (${QUOTE_COLUMN_LIST}) from '${snapshotsFile}'`)));
        keep('copyPsqlGross', gross.ms);
        if (rep <= 1) digests.add(await digest(client));
      }
    }

    // Last, as it may change the schema of the private database: latest_quotes without its foreign key to coins
    // (the product dropped it in migration 20261126120000, so this now measures the same as copyAllTables' latest quotes).
    const withoutFk: number[] = [];
    await client.query('alter table latest_quotes drop constraint if exists latest_quotes_coin_id_fkey');
    for (let rep = 0; rep <= repeats; rep += 1) {
      await truncate();
      await copyFromStdin(client, `copy coins (${COIN_LIST}) from stdin`, coinsText);
      const copied = await timed(() => copyFromStdin(client, `copy latest_quotes (${QUOTE_COLUMN_LIST}) from stdin`, snapshotsText));
      if (rep > 0) withoutFk.push(copied.ms);
      await truncate();
      const stored = await write(round0);
      if (stored.value.snapshotsInserted !== rows) throw new Error(`writeRun without the foreign key stored ${stored.value.snapshotsInserted} snapshots`);
      if (rep > 0) samples.withoutForeignKey.push(stored.ms);
      if (rep <= 1) digests.add(await digest(client));
      if (rep <= 1) latestDigests.add(await digest(client, 'latest_quotes'));
    }

    const medianOf = (list: Record<string, number>[], name: string) => round(median(list.map((p) => p[name] ?? 0)), 1);
    const measures = {
      run: measure(samples.run, rows),
      runStorePhase: measure(samples.runStorePhase, rows),
      runFetchPhase: measure(
        samples.run.map((ms, i) => ms - (samples.runStorePhase[i] ?? 0)),
        rows,
      ),
      upstreamOnly: measure(samples.upstreamOnly, rows),
      writeRun: measure(samples.writeRun, rows),
      writeRunSteady: measure(samples.writeRunSteady, rows),
      copySnapshots: measure(samples.copySnapshots, rows),
      copyAllTables: measure(samples.copyAllTables, rows),
      copyPsql: psql
        ? {
            ...measure(
              samples.copyPsqlGross.map((gross, i) => gross - (samples.psqlStartup[i] ?? 0)),
              rows,
            ),
            psqlStartupMs: round(median(samples.psqlStartup), 1),
          }
        : null,
      firstRunMs,
    };
    const ratio = (a: Measure, b: Measure) => round(a.rowsPerSecond / b.rowsPerSecond, 3);
    const ratios = {
      writeRunToCopy: ratio(measures.writeRun, measures.copySnapshots),
      runToCopy: ratio(measures.run, measures.copySnapshots),
      runStorePhaseToCopy: ratio(measures.runStorePhase, measures.copySnapshots),
      writeRunToCopyAllTables: ratio(measures.writeRun, measures.copyAllTables),
      writeRunToCopyPsql: measures.copyPsql ? ratio(measures.writeRun, measures.copyPsql) : null,
      runToCopyPsql: measures.copyPsql ? ratio(measures.run, measures.copyPsql) : null,
    };
    const alternative = (list: number[]) => {
      const m = measure(list, rows);
      return { ...m, toCopy: ratio(m, measures.copySnapshots), toCopyAllTables: ratio(m, measures.copyAllTables) };
    };
    notes.push(
      'rows/s counts the 15,000 snapshot rows for every measure; writeRun (and the run) also upsert 15,000 latest quotes and 5,000 coins and update the run record in the same transaction, which the snapshot-only COPY does not: copyAllTables is the like-for-like floor.',
      'the fake upstream runs in a child process; the run includes its 60 page requests (250 items each) over loopback HTTP, sequential as the fetcher makes them.',
      'the run and writeRun go through knex (pool of 2); the COPYs use one warm node-postgres connection with rows already in COPY text format (formatting not timed); synchronous_commit is the server default for all.',
    );
    if (digests.size !== 1) notes.push(`stored snapshot rows differ between methods: ${[...digests].join(' / ')}`);
    if (latestDigests.size !== 1) notes.push(`stored latest quotes differ between methods: ${[...latestDigests].join(' / ')}`);
    return {
      benchmark: 'ingest',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      machine: { ...machine(), postgres, database: database.server },
      setup: {
        coins: round0.coins.length,
        currencies,
        rows: { snapshots: rows, latestQuotes: rows, coins: round0.coins.length },
        repeats,
        upstream: 'fake CoinGecko in a child process, round 0 (no faults)',
      },
      identicalRows: digests.size === 1 && latestDigests.size === 1,
      digest: [...digests][0] ?? '',
      measures,
      breakdown: {
        writeRun: Object.fromEntries([...new Set(parts.writeRun.flatMap((p) => Object.keys(p)))].map((name) => [name, medianOf(parts.writeRun, name)])),
        copyAllTables: {
          coins: medianOf(parts.copyAllTables, 'coins'),
          snapshots: medianOf(parts.copyAllTables, 'snapshots'),
          latestQuotes: medianOf(parts.copyAllTables, 'latestQuotes'),
          commit: medianOf(parts.copyAllTables, 'commit'),
        },
        latestQuotesCopyWithoutForeignKey: round(median(withoutFk), 1),
      },
      alternatives: {
        beforeCopy: { ...alternative(samples.beforeCopy), writeRunSpeedup: round(median(samples.beforeCopy) / measures.writeRun.ms, 2) },
        writeRunWithoutLatestQuotesForeignKey: alternative(samples.withoutForeignKey),
      },
      ratios,
      target: {
        description: 'store (writeRun) >= 50% of the rows/s of COPY of the same snapshot rows',
        met: ratios.writeRunToCopy >= 0.5,
        metAgainstPsqlFloor: ratios.writeRunToCopyPsql === null ? null : ratios.writeRunToCopyPsql >= 0.5,
        metAgainstLikeForLike: ratios.writeRunToCopyAllTables >= 0.5,
      },
      notes,
    };
  } finally {
    upstream?.process.child.kill('SIGTERM');
    await upstream?.process.exited;
    await fake.close();
    await client.end().catch(() => undefined);
    await db.destroy();
    await database.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: digits }) : 'n/a');
const yes = (ok: boolean) => (ok ? 'met' : '**missed**');

/** The ingest section of bench/RESULTS.md. */
export function ingestSection(i: IngestResult): string {
  const m = i.measures;
  const before = i.alternatives.beforeCopy;
  const row = (name: string, x: { ms: number; rowsPerSecond: number } | null) =>
    x ? `| ${name} | ${f(x.ms)} | ${f(x.rowsPerSecond, 0)} |` : `| ${name} | n/a | n/a |`;
  const percent = (ratio: number) => `${f(ratio * 100, 0)}%`;
  return [
    `## Ingest (${f(i.setup.rows.snapshots, 0)} snapshots: ${f(i.setup.coins, 0)} coins x ${i.setup.currencies.join(', ')}; medians of ${i.setup.repeats})`,
    '',
    '| measure | ms | snapshot rows/s |',
    '| --- | --- | --- |',
    row('fetcher run, end to end (60 page requests to the fake included)', m.run),
    row('fetcher store phase inside the run', m.runStorePhase),
    row('writeRun alone, empty tables (quotes by binary COPY into a temporary table)', m.writeRun),
    row('writeRun, next round over the previous (steady state)', m.writeRunSteady),
    row('writeRun before COPY (quotes as column arrays bound to one statement), empty tables', before),
    row('COPY quote_snapshots (the floor)', m.copySnapshots),
    row('COPY coins + snapshots + latest quotes in one transaction', m.copyAllTables),
    row('psql \\copy of the snapshots, minus psql start-up', m.copyPsql),
    '',
    `- Target: the store (writeRun) at least 50% of the rows/s of COPY of the same snapshots: ${percent(i.ratios.writeRunToCopy)}, ${yes(i.target.met)}.${
      i.ratios.writeRunToCopyPsql === null ? '' : ` Against psql's \\copy: ${percent(i.ratios.writeRunToCopyPsql)}.`
    } Against COPY of everything writeRun stores (coins, snapshots, latest quotes): ${percent(i.ratios.writeRunToCopyAllTables)}.`,
    `- writeRun by COPY against writeRun before COPY: ${f(before.writeRunSpeedup, 2)}x the speed (${f(before.ms)} ms before, ${percent(before.toCopy)} of COPY's rows/s).`,
    `- Every method stored identical rows: ${i.identicalRows ? 'yes' : '**no**'}.`,
  ].join('\n');
}

// `tsx bench/ingest.ts`: prints the result and writes bench/results/ingest.json.
if (process.argv[1]?.endsWith('ingest.ts')) {
  const result = await ingestBenchmark({ adminDatabaseUrl: process.env.DATABASE_URL });
  await writeResult('ingest', result);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!result.identicalRows) process.exitCode = 1;
}
