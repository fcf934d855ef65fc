import { DATA_CHANGED_CHANNEL, type FetchRunRow, type Knex, type QuoteRow } from '@cryptoagg/db';
import pg from 'pg';
import type { CoinMetadata } from './upstream/schemas.js';

/** The SQL of the fetcher: it owns every write to coins, quotes, snapshots and fetch_runs. */

// An arbitrary constant shared by every fetcher process: the advisory lock that serialises runs.
const RUN_LOCK_KEY = 8_315_204_417;

export interface CoinUpsert {
  id: string;
  symbol: string;
  name: string;
  image: string | null;
  market_cap_rank: number | null;
}

export type RunCounts = Pick<
  FetchRunRow,
  | 'requests'
  | 'items_received'
  | 'items_skipped'
  | 'coins_updated'
  | 'snapshots_inserted'
  | 'metadata_updated'
  | 'metadata_skipped'
  | 'upstream_errors'
>;

/**
 * Holds the run lock on a connection of its own for the whole run, so two runs
 * never interleave (the CronJob's `Forbid` is no lock: a manual run or a slow
 * node can still overlap). A second run waits for the first, up to `timeoutMs`.
 */
export async function acquireRunLock(url: string, timeoutMs: number): Promise<{ release(): Promise<void>; lost: AbortSignal }> {
  const client = new pg.Client({ connectionString: url, application_name: 'cryptoagg-fetcher-lock' });
  const lost = new AbortController();
  // The lock dies with its connection (a database restart): the run must not go on without it.
  client.on('error', (error) => lost.abort(new Error(`lost the run lock: ${error.message}`)));
  client.on('end', () => lost.abort(new Error('lost the run lock: its connection closed')));
  await client.connect();
  try {
    await client.query(`set lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    await client.query('select pg_advisory_lock($1)', [RUN_LOCK_KEY]);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
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

/** Coins the run should refresh metadata for: missing first, then the oldest, none fresher than maxAgeHours. */
export async function pickMetadataCandidates(db: Knex, ids: string[], limit: number, maxAgeHours: number): Promise<string[]> {
  if (limit === 0 || ids.length === 0) return [];
  const { rows } = await db.raw<{ rows: { id: string }[] }>(
    `select c.id
       from unnest(?::text[]) with ordinality as c(id, position)
       left join coins on coins.id = c.id
      where coins.metadata_refreshed_at is null
         or coins.metadata_refreshed_at < now() - make_interval(hours => ?)
      order by coins.metadata_refreshed_at asc nulls first, c.position
      limit ?`,
    [ids, maxAgeHours, limit],
  );
  return rows.map((r) => r.id);
}

/** Makes sure a monthly partition exists for every month in [from, to] plus the next one. */
export async function ensurePartitions(db: Knex, from: Date, to: Date): Promise<void> {
  await db.raw(`select ensure_quote_snapshot_partitions(?, ?::timestamptz + interval '1 month')`, [from, to]);
}

const QUOTE_ARRAYS = `unnest(
  ?::text[], ?::text[], ?::timestamptz[], ?::timestamptz[],
  ?::float8[], ?::float8[], ?::float8[], ?::float8[], ?::float8[], ?::float8[], ?::float8[], ?::float8[]
) as q(coin_id, currency, last_updated, fetched_at, price, market_cap, total_volume, high_24h, low_24h,
       price_change_24h, price_change_percentage_24h, circulating_supply)`;

const QUOTE_COLUMN_LIST = `coin_id, currency, last_updated, fetched_at, price, market_cap, total_volume, high_24h, low_24h,
  price_change_24h, price_change_percentage_24h, circulating_supply`;

/** knex's binding type has no arrays with nulls, which pg sends as Postgres arrays just fine. */
const array = (values: unknown[]): Knex.RawBinding => values as Knex.RawBinding;

/** Column-wise arrays: one statement with 12 parameters stores any number of rows. */
function quoteArrays(quotes: QuoteRow[]): Knex.RawBinding[] {
  return [
    array(quotes.map((q) => q.coin_id)),
    array(quotes.map((q) => q.currency)),
    array(quotes.map((q) => q.last_updated.toISOString())),
    array(quotes.map((q) => q.fetched_at.toISOString())),
    array(quotes.map((q) => q.price)),
    array(quotes.map((q) => q.market_cap)),
    array(quotes.map((q) => q.total_volume)),
    array(quotes.map((q) => q.high_24h)),
    array(quotes.map((q) => q.low_24h)),
    array(quotes.map((q) => q.price_change_24h)),
    array(quotes.map((q) => q.price_change_percentage_24h)),
    array(quotes.map((q) => q.circulating_supply)),
  ];
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
 * latest quote of the run is visible, together with its succeeded run record,
 * or nothing is. The NOTIFY is delivered only when the transaction commits.
 */
export async function writeRun(db: Knex, run: RunWrite): Promise<{ snapshotsInserted: number; coinsUpdated: number }> {
  return db.transaction(async (trx) => {
    await trx.raw(
      `insert into coins (id, symbol, name, image, market_cap_rank)
       select * from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::int[])
       on conflict (id) do update set
         symbol = excluded.symbol, name = excluded.name, image = excluded.image,
         market_cap_rank = excluded.market_cap_rank, updated_at = now()`,
      [
        array(run.coins.map((c) => c.id)),
        array(run.coins.map((c) => c.symbol)),
        array(run.coins.map((c) => c.name)),
        array(run.coins.map((c) => c.image)),
        array(run.coins.map((c) => c.market_cap_rank)),
      ],
    );
    if (run.metadata.length > 0) {
      await trx.raw(
        `update coins set description = m.description, homepage = m.homepage, categories = m.categories,
                genesis_date = m.genesis_date, metadata_refreshed_at = now(), updated_at = now()
           from jsonb_to_recordset(?::jsonb) as m(id text, description text, homepage text, categories text[], genesis_date date)
          where coins.id = m.id`,
        [JSON.stringify(run.metadata.map((m) => ({ ...m, genesis_date: m.genesisDate })))],
      );
    }
    // One statement feeds both tables from one set of column arrays: node-postgres serialises and the
    // server parses the twelve arrays once, not twice (writeRun ~23% faster, bench/RESULTS.md).
    // A run may carry an older snapshot than one already stored (two runs racing): latest only moves forward.
    const { rows } = await trx.raw<{ rows: { inserted: number }[] }>(
      `with q as materialized (select * from ${QUOTE_ARRAYS}),
       snapshots as (
         insert into quote_snapshots (${QUOTE_COLUMN_LIST}) select * from q on conflict do nothing returning 1),
       latest as (
         insert into latest_quotes (${QUOTE_COLUMN_LIST}) select * from q
         on conflict (coin_id, currency) do update set
           last_updated = excluded.last_updated, fetched_at = excluded.fetched_at, price = excluded.price,
           market_cap = excluded.market_cap, total_volume = excluded.total_volume, high_24h = excluded.high_24h,
           low_24h = excluded.low_24h, price_change_24h = excluded.price_change_24h,
           price_change_percentage_24h = excluded.price_change_percentage_24h,
           circulating_supply = excluded.circulating_supply
         where excluded.last_updated > latest_quotes.last_updated
         returning 1)
       select (select count(*) from snapshots)::int as inserted, (select count(*) from latest)::int as latest`,
      quoteArrays(run.quotes),
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
