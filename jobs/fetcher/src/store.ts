import { DATA_CHANGED_CHANNEL, QUOTE_COLUMNS, type CoinRow, type FetchRunRow, type Knex, type QuoteColumn, type QuoteRow } from '@cryptoagg/db';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { CoinMetadata } from './upstream/schemas.js';
import { monthsSpanned, WINDOW_MONTHS_BACK } from './window.js';

/** The SQL of the fetcher: it owns every write to coins, quotes, snapshots and fetch_runs. */

// An arbitrary constant shared by every fetcher process: the advisory lock that serialises runs.
const RUN_LOCK_KEY = 8_315_204_417;

/** What a market listing tells of a coin: the columns of coins each run writes. */
export const COIN_UPSERT_COLUMNS = ['id', 'symbol', 'name', 'image', 'market_cap_rank'] as const satisfies readonly (keyof CoinRow)[];

export type CoinUpsert = Pick<CoinRow, (typeof COIN_UPSERT_COLUMNS)[number]>;

export type RunCounts = Pick<
  FetchRunRow,
  'requests' | 'items_received' | 'items_skipped' | 'coins_updated' | 'snapshots_inserted' | 'metadata_updated' | 'metadata_skipped' | 'upstream_errors'
>;

export interface RunLock {
  release(): Promise<void>;
  /** aborts when the lock's connection is gone, and with it the lock */
  lost: AbortSignal;
}

export interface RunLockOptions {
  /** how long to wait for another run to release the lock */
  waitMs: number;
  /** ends the wait at once (SIGTERM) */
  signal?: AbortSignal | undefined;
}

/** A PostgreSQL backend of ours ended from another connection: a backend waiting for a lock reads nothing from its client. */
async function terminateBackend(url: string, pid: number): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'cryptoagg-fetcher-lock', connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select pg_terminate_backend($1)', [pid]);
  } catch {
    // Best effort: left alone, the waiter takes the lock when it frees, sees its client gone and exits, releasing it.
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Holds the run lock on a connection of its own for the whole run, so two runs
 * never interleave (the CronJob's `Forbid` is no lock: a manual run or a slow
 * node can still overlap). A second run waits for the first, up to `waitMs`.
 * An abort ends the wait at once and terminates the waiting backend, so no
 * abandoned waiter stays queued for the lock behind the running fetcher.
 */
export async function acquireRunLock(url: string, { waitMs, signal }: RunLockOptions): Promise<RunLock> {
  signal?.throwIfAborted();
  const client = new pg.Client({ connectionString: url, application_name: 'cryptoagg-fetcher-lock', connectionTimeoutMillis: 10_000 });
  const lost = new AbortController();
  // The lock dies with its connection (a database restart): the run must not go on without it.
  client.on('error', (error) => lost.abort(new Error(`lost the run lock: ${error.message}`)));
  client.on('end', () => lost.abort(new Error('lost the run lock: its connection closed')));
  let stop: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    stop = () => reject(signal?.reason instanceof Error ? signal.reason : new Error(String(signal?.reason)));
    signal?.addEventListener('abort', stop, { once: true });
  });
  // Only ever observed through the races below.
  stopped.catch(() => undefined);
  const unlessStopped = <T>(step: Promise<T>): Promise<T> => Promise.race([step, stopped]);
  let pid: number | undefined;
  try {
    await unlessStopped(client.connect());
    const { rows } = await unlessStopped(client.query<{ pid: number }>('select pg_backend_pid() as pid'));
    pid = rows[0]?.pid;
    await unlessStopped(client.query(`set lock_timeout = ${Math.max(1, Math.floor(waitMs))}`));
    await unlessStopped(client.query('select pg_advisory_lock($1)', [RUN_LOCK_KEY]));
  } catch (error) {
    if (signal?.aborted && pid !== undefined) await terminateBackend(url, pid);
    await client.end().catch(() => undefined);
    if ((error as { code?: unknown }).code === '55P03') {
      throw new Error(`another fetcher run held the run lock for more than ${waitMs / 1000}s`, { cause: error });
    }
    throw error;
  } finally {
    if (stop) signal?.removeEventListener('abort', stop);
  }
  return {
    lost: lost.signal,
    release: async () => {
      client.removeAllListeners('end');
      await client.query('select pg_advisory_unlock($1)', [RUN_LOCK_KEY]).catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/** Runs left 'running' by a process that died: only the lock holder runs, so any other is abandoned. */
export async function failAbandonedRuns(db: Knex): Promise<number> {
  return db('fetch_runs')
    .where({ status: 'running' })
    .update({ status: 'failed', finished_at: db.fn.now(), error: 'abandoned: the fetcher stopped before finishing' });
}

export async function startRun(db: Knex, currencies: string[]): Promise<number> {
  const [row] = await db('fetch_runs').insert({ status: 'running', currencies }).returning<{ id: number }[]>('id');
  if (!row) throw new Error('fetch_runs insert returned no id');
  return row.id;
}

export async function failRun(db: Knex, runId: number, error: string, counts: Partial<RunCounts>): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('fetch_runs')
      .where({ id: runId })
      .update({ ...counts, upstream_errors: JSON.stringify(counts.upstream_errors ?? {}), status: 'failed', finished_at: trx.raw('clock_timestamp()'), error });
    // fetchStatus changed (lastAttemptAt): let API caches know too.
    await trx.raw('select pg_notify(?, ?)', [DATA_CHANGED_CHANNEL, String(runId)]);
  });
}

/**
 * Coins the run should refresh metadata for: those with none or with metadata
 * older than maxAgeHours, the least recently attempted first (never attempted,
 * then the oldest refresh or failure), in market-cap order among equals. A coin
 * whose last attempt failed thus waits behind the others instead of taking the
 * first slot of every run.
 */
export async function pickMetadataCandidates(db: Knex, ids: string[], limit: number, maxAgeHours: number): Promise<string[]> {
  if (limit === 0 || ids.length === 0) return [];
  const { rows } = await db.raw<{ rows: { id: string }[] }>(
    `select c.id
       from unnest(?::text[]) with ordinality as c(id, position)
       left join coins on coins.id = c.id
      where coins.metadata_refreshed_at is null
         or coins.metadata_refreshed_at < now() - make_interval(hours => ?)
      order by greatest(coins.metadata_refreshed_at, coins.metadata_failed_at) asc nulls first, c.position
      limit ?`,
    [ids, maxAgeHours, limit],
  );
  return rows.map((r) => r.id);
}

/** Records a failed metadata refresh (refused by the upstream or unstorable), so the coin goes to the back of the line. */
export async function recordMetadataFailures(db: Knex, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db('coins').whereIn('id', ids).update({ metadata_failed_at: db.fn.now() });
}

/** The most months one call may create partitions for: a run's snapshot window (window.ts) spans no more. */
const MAX_PARTITION_MONTHS = WINDOW_MONTHS_BACK + 1;

/**
 * Makes sure a monthly partition (UTC months) exists for every month that
 * [from, to] touches; returns how many it created. Refuses a range wider than
 * a run's snapshot window, so no input can make it create more than a handful.
 */
export async function ensurePartitions(db: Knex, from: Date, to: Date): Promise<number> {
  const months = monthsSpanned(from.getTime(), to.getTime());
  if (months > MAX_PARTITION_MONTHS) {
    throw new Error(
      `refusing to create partitions for ${months} months (${from.toISOString()} to ${to.toISOString()}): at most ${MAX_PARTITION_MONTHS} at once`,
    );
  }
  const { rows } = await db.raw<{ rows: { created: number }[] }>('select ensure_quote_snapshot_partitions(?::timestamptz, ?::timestamptz) as created', [
    from.toISOString(),
    to.toISOString(),
  ]);
  return rows[0]?.created ?? 0;
}

/*
 * Coins travel column-wise: one array parameter per column (`unnest(?::text[], ...)`), so one statement
 * with a parameter per column stores any number of rows; quotes, three times as many, go by COPY (below).
 * The statements are generated from the column lists, with the PostgreSQL type of each column.
 */
type ColumnType = 'text' | 'int' | 'float8' | 'timestamptz';

const COIN_COLUMN_TYPES: Record<(typeof COIN_UPSERT_COLUMNS)[number], ColumnType> = {
  id: 'text',
  symbol: 'text',
  name: 'text',
  image: 'text',
  market_cap_rank: 'int',
};

const QUOTE_COLUMN_TYPES: Record<QuoteColumn, ColumnType> = {
  coin_id: 'text',
  currency: 'text',
  last_updated: 'timestamptz',
  fetched_at: 'timestamptz',
  price: 'float8',
  market_cap: 'float8',
  total_volume: 'float8',
  high_24h: 'float8',
  low_24h: 'float8',
  price_change_24h: 'float8',
  price_change_percentage_24h: 'float8',
  circulating_supply: 'float8',
};

const unnest = <C extends string>(columns: readonly C[], types: Record<C, ColumnType>) => `unnest(${columns.map((c) => `?::${types[c]}[]`).join(', ')})`;

/** `set a = excluded.a, ...`: an upsert's update of every column but the conflict key. */
const updateFromExcluded = (columns: readonly string[], key: readonly string[]) =>
  columns
    .filter((c) => !key.includes(c))
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');

/** knex's binding type has no arrays with nulls, which pg sends as Postgres arrays just fine. */
const array = (values: unknown[]): Knex.RawBinding => values as Knex.RawBinding;

/** The bindings of `unnest` for `rows`: one array per column, dates as ISO strings. */
function columnArrays<R, C extends keyof R>(rows: readonly R[], columns: readonly C[]): Knex.RawBinding[] {
  return columns.map((column) =>
    array(
      rows.map((row) => {
        const value = row[column];
        return value instanceof Date ? value.toISOString() : value;
      }),
    ),
  );
}

const COINS_UPSERT = `insert into coins (${COIN_UPSERT_COLUMNS.join(', ')})
  select * from ${unnest(COIN_UPSERT_COLUMNS, COIN_COLUMN_TYPES)}
  on conflict (id) do update set ${updateFromExcluded(COIN_UPSERT_COLUMNS, ['id'])}, updated_at = now()`;

/** Inserts the run's coins, or updates what their listing says of them. */
export async function upsertCoins(db: Knex, coins: readonly CoinUpsert[]): Promise<void> {
  await db.raw(COINS_UPSERT, columnArrays(coins, COIN_UPSERT_COLUMNS));
}

export const QUOTE_COLUMN_LIST = QUOTE_COLUMNS.join(', ');
/** A latest quote's update by a newer one: every column but the key. */
const LATEST_QUOTE_UPDATE = updateFromExcluded(QUOTE_COLUMNS, ['coin_id', 'currency']);

/*
 * The run's quotes reach the server by COPY into a temporary table, in the binary format, and the one
 * statement of writeRun reads them from there. Against the column arrays bound to that statement before
 * (bench/lib/store-previous.ts), the server parses no twelve text arrays; against text COPY, neither side
 * formats or parses numbers and dates as text: doubles and timestamps go as their eight bytes. Measured
 * side by side on 15,000 quotes (2 shared cores, medians of 7): writeRun 997 ms binary, 1,133 ms text
 * COPY, 1,388 ms arrays; encoding alone 15-45 ms binary, 190-360 ms text (String(double), ISO dates).
 */
const RUN_QUOTES_TABLE = `create temp table run_quotes (${QUOTE_COLUMNS.map((c) => `${c} ${QUOTE_COLUMN_TYPES[c]}`).join(', ')}) on commit drop`;

/** COPY's binary header: signature, flags (no OIDs), no header extension. */
const COPY_BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
/** PostgreSQL's timestamps count microseconds from 2000-01-01 UTC. */
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);

/**
 * `rows` in COPY's binary format (each field its byte length and its value, -1 for NULL).
 * Written by hand: three types are a few lines, and pg-copy-streams-binary brings six old stream helpers for them.
 */
function copyBinary<R, C extends keyof R & string>(rows: readonly R[], columns: readonly C[], types: Record<C, ColumnType>): Buffer {
  // UTF-8 takes at most three bytes per UTF-16 unit: one allocation fits every row.
  let size = COPY_BINARY_HEADER.length + 2;
  for (const row of rows) {
    size += 2 + 4 * columns.length;
    for (const c of columns) {
      const value = row[c];
      // Doubles and timestamps take eight bytes.
      size += typeof value === 'string' ? 3 * value.length : 8;
    }
  }
  const buffer = Buffer.allocUnsafe(size);
  let at = COPY_BINARY_HEADER.copy(buffer, 0);
  for (const row of rows) {
    at = buffer.writeInt16BE(columns.length, at);
    for (const c of columns) {
      const value = row[c] as unknown;
      if (value === null || value === undefined) {
        at = buffer.writeInt32BE(-1, at);
      } else if (typeof value === 'string' && types[c] === 'text') {
        const length = buffer.write(value, at + 4, 'utf8');
        buffer.writeInt32BE(length, at);
        at += 4 + length;
      } else if (value instanceof Date && types[c] === 'timestamptz' && Number.isFinite(value.getTime())) {
        // Exact in a double within 285 years of 2000 (validation keeps quotes after 2009), written as two 32-bit halves.
        const micros = (value.getTime() - POSTGRES_EPOCH_MS) * 1000;
        const high = Math.floor(micros / 2 ** 32);
        at = buffer.writeInt32BE(8, at);
        at = buffer.writeInt32BE(high, at);
        at = buffer.writeUInt32BE(micros - high * 2 ** 32, at);
      } else if (typeof value === 'number' && types[c] === 'float8') {
        at = buffer.writeInt32BE(8, at);
        at = buffer.writeDoubleBE(value, at);
      } else {
        throw new TypeError(`${c}: cannot COPY ${value instanceof Date ? 'an invalid date' : `a ${typeof value}`} as ${types[c]}`);
      }
    }
  }
  at = buffer.writeInt16BE(-1, at);
  return buffer.subarray(0, at);
}

/**
 * COPY of `rows` into `table` on the transaction's own connection. Inside a transaction, knex's
 * client is the transaction's (makeTxClient in knex/lib/execution/transaction.js): its acquireConnection hands out the
 * transaction's node-postgres client, never another from the pool, and its release is a no-op.
 */
async function copyInto<R, C extends keyof R & string>(
  trx: Knex.Transaction,
  table: string,
  rows: readonly R[],
  columns: readonly C[],
  types: Record<C, ColumnType>,
): Promise<void> {
  // Encoded first: a row it refuses must not leave the connection inside a COPY that was never ended.
  const data = copyBinary(rows, columns, types);
  const connection = (await (trx.client as Knex.Client).acquireConnection()) as pg.ClientBase;
  const copy = connection.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin (format binary)`));
  await pipeline(Readable.from([data]), copy);
}

export interface RunWrite {
  runId: number;
  coins: CoinUpsert[];
  quotes: QuoteRow[];
  metadata: CoinMetadata[];
  counts: Omit<RunCounts, 'snapshots_inserted' | 'coins_updated'>;
  /** checked just before commit: a run that lost its lock or its deadline rolls back */
  signal?: AbortSignal;
}

/**
 * Stores a whole run in one transaction: either every coin, snapshot and
 * latest quote of the run is visible, together with its succeeded run record
 * and its market listing, or nothing is. The NOTIFY is delivered only when
 * the transaction commits.
 *
 * The listing of each of the run's currencies (fetch_runs.currencies) becomes
 * the coins the run quoted in it, a currency with no valid item included:
 * markets lists exactly the newest successful run's coins.
 */
export async function writeRun(db: Knex, run: RunWrite): Promise<{ snapshotsInserted: number; coinsUpdated: number }> {
  return db.transaction(async (trx) => {
    // Writers of the listing go one at a time (readers are not blocked): the run lock already serialises
    // runs, but two listing updates at once, each blind to the other's new rows, would leave both runs'
    // coins listed. Taken first, so every writer locks in the same order and none can deadlock on rows.
    await trx.raw('lock table market_listings in share row exclusive mode');
    await upsertCoins(trx, run.coins);
    if (run.metadata.length > 0) {
      await trx.raw(
        `update coins set description = m.description, homepage = m.homepage, categories = m.categories,
                genesis_date = m.genesis_date, metadata_refreshed_at = now(), updated_at = now()
           from jsonb_to_recordset(?::jsonb) as m(id text, description text, homepage text, categories text[], genesis_date date)
          where coins.id = m.id`,
        [JSON.stringify(run.metadata.map((m) => ({ ...m, genesis_date: m.genesisDate })))],
      );
    }
    await trx.raw(RUN_QUOTES_TABLE);
    await copyInto(trx, 'run_quotes', run.quotes, QUOTE_COLUMNS, QUOTE_COLUMN_TYPES);
    // One statement feeds snapshots, latest quotes and the listing from the run's quotes.
    // A run may carry an older snapshot than one already stored (two runs racing): latest only moves forward.
    const { rows } = await trx.raw<{ rows: { inserted: number }[] }>(
      `with snapshots as (
         insert into quote_snapshots (${QUOTE_COLUMN_LIST}) select ${QUOTE_COLUMN_LIST} from run_quotes on conflict do nothing returning 1),
       latest as (
         insert into latest_quotes (${QUOTE_COLUMN_LIST}) select ${QUOTE_COLUMN_LIST} from run_quotes
         on conflict (coin_id, currency) do update set ${LATEST_QUOTE_UPDATE}
         where excluded.last_updated > latest_quotes.last_updated
         returning 1),
       -- The listing changes by its difference only: most coins stay from one run to the next, and rewriting
       -- every row would double the work and the dead rows (bench: 5,000 coins x 3, 97 ms instead of 184 ms).
       unlisted as (
         delete from market_listings l
          where l.currency in (select unnest(currencies) from fetch_runs where id = ?)
            and not exists (select from run_quotes q where q.currency = l.currency and q.coin_id = l.coin_id)),
       listed as (
         insert into market_listings (currency, coin_id, since_run_id) select currency, coin_id, ?::bigint from run_quotes
         on conflict (currency, coin_id) do nothing)
       select (select count(*) from snapshots)::int as inserted`,
      [run.runId, run.runId],
    );
    const snapshotsInserted = rows[0]?.inserted ?? 0;
    const coinsUpdated = new Set(run.quotes.map((q) => q.coin_id)).size;
    await trx('fetch_runs')
      .where({ id: run.runId })
      .update({
        ...run.counts,
        upstream_errors: JSON.stringify(run.counts.upstream_errors),
        snapshots_inserted: snapshotsInserted,
        coins_updated: coinsUpdated,
        status: 'succeeded',
        finished_at: trx.raw('clock_timestamp()'),
      });
    await trx.raw('select pg_notify(?, ?)', [DATA_CHANGED_CHANNEL, String(run.runId)]);
    run.signal?.throwIfAborted();
    return { snapshotsInserted, coinsUpdated };
  });
}
