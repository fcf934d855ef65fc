import { DATA_CHANGED_CHANNEL, QUOTE_COLUMNS, type CoinRow, type FetchRunRow, type Knex, type QuoteColumn, type QuoteRow } from '@cryptoagg/db';
import pg from 'pg';
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
 * Rows travel column-wise: one array parameter per column (`unnest(?::text[], ...)`), so one statement
 * with a parameter per column stores any number of rows. The statements are generated from the column
 * lists, with the PostgreSQL type of each column's array.
 */
type ArrayType = 'text' | 'int' | 'float8' | 'timestamptz';

const COIN_ARRAY_TYPES: Record<(typeof COIN_UPSERT_COLUMNS)[number], ArrayType> = {
  id: 'text',
  symbol: 'text',
  name: 'text',
  image: 'text',
  market_cap_rank: 'int',
};

const QUOTE_ARRAY_TYPES: Record<QuoteColumn, ArrayType> = {
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

const unnest = <C extends string>(columns: readonly C[], types: Record<C, ArrayType>) => `unnest(${columns.map((c) => `?::${types[c]}[]`).join(', ')})`;

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
  select * from ${unnest(COIN_UPSERT_COLUMNS, COIN_ARRAY_TYPES)}
  on conflict (id) do update set ${updateFromExcluded(COIN_UPSERT_COLUMNS, ['id'])}, updated_at = now()`;

/** Inserts the run's coins, or updates what their listing says of them. */
export async function upsertCoins(db: Knex, coins: readonly CoinUpsert[]): Promise<void> {
  await db.raw(COINS_UPSERT, columnArrays(coins, COIN_UPSERT_COLUMNS));
}

export const QUOTE_COLUMN_LIST = QUOTE_COLUMNS.join(', ');
/** The run's quotes as a table `q`, bound to `quoteArrays(quotes)`. */
export const QUOTE_ARRAYS = `${unnest(QUOTE_COLUMNS, QUOTE_ARRAY_TYPES)} as q(${QUOTE_COLUMN_LIST})`;
export const quoteArrays = (quotes: readonly QuoteRow[]): Knex.RawBinding[] => columnArrays(quotes, QUOTE_COLUMNS);
/** A latest quote's update by a newer one: every column but the key. */
export const LATEST_QUOTE_UPDATE = updateFromExcluded(QUOTE_COLUMNS, ['coin_id', 'currency']);

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
    // One statement feeds snapshots, latest quotes and the listing from one set of column arrays: node-postgres
    // serialises and the server parses the twelve arrays once (writeRun ~23% faster than twice, bench/RESULTS.md).
    // A run may carry an older snapshot than one already stored (two runs racing): latest only moves forward.
    const { rows } = await trx.raw<{ rows: { inserted: number }[] }>(
      `with q as materialized (select * from ${QUOTE_ARRAYS}),
       snapshots as (
         insert into quote_snapshots (${QUOTE_COLUMN_LIST}) select * from q on conflict do nothing returning 1),
       latest as (
         insert into latest_quotes (${QUOTE_COLUMN_LIST}) select * from q
         on conflict (coin_id, currency) do update set ${LATEST_QUOTE_UPDATE}
         where excluded.last_updated > latest_quotes.last_updated
         returning 1),
       -- The listing changes by its difference only: most coins stay from one run to the next, and rewriting
       -- every row would double the work and the dead rows (bench: 5,000 coins x 3, 97 ms instead of 184 ms).
       unlisted as (
         delete from market_listings l
          where l.currency in (select unnest(currencies) from fetch_runs where id = ?)
            and not exists (select from q where q.currency = l.currency and q.coin_id = l.coin_id)),
       listed as (
         insert into market_listings (currency, coin_id, since_run_id) select currency, coin_id, ?::bigint from q
         on conflict (currency, coin_id) do nothing)
       select (select count(*) from snapshots)::int as inserted, (select count(*) from latest)::int as latest`,
      [...quoteArrays(run.quotes), run.runId, run.runId],
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
