import { DATA_CHANGED_CHANNEL, type ExchangeSourceName, type Knex, type SourceQuoteRow, type SourceRunRow } from '@cryptoagg/db';
import type { ListedCoin, MappingInputs } from './mapping.js';
import { STABLECOINS } from './mapping.js';

/** The SQL of the exchange sources: the fetcher owns every write to source_runs, source_quotes and latest_source_quotes. */

export type SourceRunCounts = Pick<SourceRunRow, 'requests' | 'pairs_listed' | 'items_skipped' | 'upstream_errors'>;

/** Source runs left 'running' by a fetcher that died: only the run-lock holder reads sources, so any other is abandoned. */
export async function failAbandonedSourceRuns(db: Knex): Promise<number> {
  return db('source_runs')
    .where({ status: 'running' })
    .update({ status: 'failed', finished_at: db.fn.now(), error: 'abandoned: the fetcher stopped before finishing' });
}

/** One 'running' row per source of this fetch run, so fetchStatus lists every source being read. */
export async function startSourceRuns(db: Knex, fetchRunId: number, sources: readonly ExchangeSourceName[]): Promise<Map<ExchangeSourceName, number>> {
  const rows = await db('source_runs')
    .insert(sources.map((source) => ({ fetch_run_id: fetchRunId, source, status: 'running' })))
    .returning<{ id: number; source: ExchangeSourceName }[]>(['id', 'source']);
  return new Map(rows.map((r) => [r.source, Number(r.id)]));
}

/**
 * What the mapping reads: the coins the newest successful run listed (in any currency) with their
 * ranks, and the stored usd price of each stablecoin that quotes pairs.
 */
export async function loadMappingInputs(db: Knex, currencies: readonly string[]): Promise<MappingInputs> {
  const [coins, stablecoins] = await Promise.all([
    db<ListedCoin>('coins as c')
      .select('c.id', 'c.symbol', 'c.market_cap_rank')
      .whereExists((q) => void q.select(db.raw('1')).from('market_listings as l').whereRaw('l.coin_id = c.id')),
    db('latest_quotes')
      .select<{ coin_id: string; price: number }[]>('coin_id', 'price')
      .where({ currency: 'usd' })
      .whereIn('coin_id', Object.values(STABLECOINS)),
  ]);
  return { coins, stablecoinUsd: new Map(stablecoins.map((s) => [s.coin_id, s.price])), currencies };
}

/*
 * The data version of a source's commit: the next number of fetch_runs' id sequence, taken under the lock
 * that serialises source commits, so commit order and version order agree (migration 20261203140000).
 */
const NEXT_VERSION = `nextval(pg_get_serial_sequence('fetch_runs', 'id'))`;

/** Source commits go one at a time: each takes its version number only once it holds this lock. */
const lockSourceCommits = (trx: Knex.Transaction) => trx.raw('lock table latest_source_quotes in share row exclusive mode');

/** knex's binding type has no arrays with nulls, which pg sends as Postgres arrays just fine. */
const array = (values: unknown[]): Knex.RawBinding => values as Knex.RawBinding;

const ROW_ARRAYS = `unnest(?::text[], ?::text[], ?::timestamptz[], ?::text[], ?::text[], ?::float8[], ?::text[], ?::float8[], ?::float8[])
  as q(source, pair, time, coin_id, currency, price, quote_asset, quote_price, volume)`;
const COLUMNS = 'source, pair, time, coin_id, currency, price, quote_asset, quote_price, volume';

const rowArrays = (rows: readonly SourceQuoteRow[]): Knex.RawBinding[] => [
  array(rows.map((r) => r.source)),
  array(rows.map((r) => r.pair)),
  array(rows.map((r) => r.time.toISOString())),
  array(rows.map((r) => r.coin_id)),
  array(rows.map((r) => r.currency)),
  array(rows.map((r) => r.price)),
  array(rows.map((r) => r.quote_asset)),
  array(rows.map((r) => r.quote_price)),
  array(rows.map((r) => r.volume)),
];

async function finish(trx: Knex.Transaction, runId: number, update: Record<string, unknown>): Promise<number> {
  const { rows } = await trx.raw<{ rows: { version: string }[] }>(
    `update source_runs set ${Object.keys(update)
      .map((column) => `${column} = ?`)
      .join(', ')}, finished_at = clock_timestamp(), version = ${NEXT_VERSION}
      where id = ? returning version`,
    [...Object.values(update).map((v) => v as Knex.RawBinding), runId],
  );
  const version = Number(rows[0]?.version);
  // Tells the subgraphs at commit: their data version moves to this commit's number.
  await trx.raw('select pg_notify(?, ?)', [DATA_CHANGED_CHANNEL, String(version)]);
  return version;
}

/**
 * Stores a source's successful run in one transaction: its quotes into the history (a fetch repeated
 * at the same instant adds nothing), its rows of latest_source_quotes replaced by this run's, and its
 * run record. Returns the data version the commit took.
 */
export async function writeSourceQuotes(
  db: Knex,
  run: { runId: number; source: ExchangeSourceName; rows: readonly SourceQuoteRow[]; counts: SourceRunCounts },
): Promise<number> {
  return db.transaction(async (trx) => {
    await lockSourceCommits(trx);
    if (run.rows.length > 0) {
      const times = run.rows.map((r) => r.time.getTime());
      await trx.raw('select ensure_source_quote_partitions(?::timestamptz, ?::timestamptz)', [
        new Date(Math.min(...times)).toISOString(),
        new Date(Math.max(...times)).toISOString(),
      ]);
      await trx.raw(`insert into source_quotes (${COLUMNS}) select * from ${ROW_ARRAYS} on conflict do nothing`, rowArrays(run.rows));
    }
    await trx('latest_source_quotes').where({ source: run.source }).delete();
    if (run.rows.length > 0) await trx.raw(`insert into latest_source_quotes (${COLUMNS}) select * from ${ROW_ARRAYS}`, rowArrays(run.rows));
    return finish(trx, run.runId, {
      status: 'succeeded',
      requests: run.counts.requests,
      pairs_listed: run.counts.pairs_listed,
      items_skipped: run.counts.items_skipped,
      upstream_errors: JSON.stringify(run.counts.upstream_errors),
      quotes_stored: run.rows.length,
    });
  });
}

/** Records a source's failed run; its previous quotes stay in latest_source_quotes (they turn stale with age). */
export async function failSourceRun(db: Knex, runId: number, error: string, counts: SourceRunCounts): Promise<number> {
  return db.transaction(async (trx) => {
    await lockSourceCommits(trx);
    return finish(trx, runId, {
      status: 'failed',
      error,
      requests: counts.requests,
      pairs_listed: counts.pairs_listed,
      items_skipped: counts.items_skipped,
      upstream_errors: JSON.stringify(counts.upstream_errors),
    });
  });
}

/**
 * Retention of the source quotes' history: drops every monthly partition of source_quotes that ends
 * before `before` (whole partitions, as for the snapshots: no row deletes), each in a transaction of
 * its own that waits at most 5 s for its lock (else it is left for the next run). Their times are
 * wall-clock fetch times, so the bound is counted from now. Returns the partitions dropped.
 */
export async function dropSourceQuotePartitionsBefore(db: Knex, before: Date): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { name: string; range_to: Date }[] }>(
    `select c.relname as name,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz as range_to
       from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'source_quotes'::regclass
      order by 2`,
  );
  const dropped: string[] = [];
  for (const partition of rows.filter((r) => r.range_to.getTime() <= before.getTime())) {
    await db.transaction(async (trx) => {
      await trx.raw(`set local lock_timeout = '5s'`);
      await trx.raw('drop table ??', [partition.name]);
    });
    dropped.push(partition.name);
  }
  return dropped;
}
