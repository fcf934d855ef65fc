import { DATA_CHANGED_CHANNEL, QUOTE_COLUMNS, type Knex, type QuoteColumn, type QuoteRow } from '@cryptoagg/db';
import { QUOTE_COLUMN_LIST, upsertCoins, type RunWrite } from '../../jobs/fetcher/src/store.js';

/**
 * The fetcher store the product used before, kept to measure old against new
 * (bench/ingest.ts).
 *
 * The product's writeRun now sends the run's quotes by binary COPY into a
 * temporary table (jobs/fetcher/src/store.ts). What this file keeps is the
 * writeRun it replaced, its SQL as it was: the quotes travel as twelve column
 * arrays bound to one statement (`unnest(?::text[], ...)`, a materialized CTE
 * feeding the snapshots, the latest quotes and the listing), which
 * node-postgres serialises as text and the server parses. The benchmark times
 * the product against it and checks both store identical rows. Never used by
 * the product. (Metadata updates are left out: the benchmark runs with none.)
 */

const ARRAY_TYPES: Record<QuoteColumn, string> = {
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
const QUOTE_ARRAYS = `unnest(${QUOTE_COLUMNS.map((c) => `?::${ARRAY_TYPES[c]}[]`).join(', ')}) as q(${QUOTE_COLUMN_LIST})`;
const LATEST_QUOTE_UPDATE = QUOTE_COLUMNS.filter((c) => c !== 'coin_id' && c !== 'currency')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');

/** One array per column, dates as ISO strings (knex's binding type has no arrays with nulls, which pg sends just fine). */
const quoteArrays = (quotes: readonly QuoteRow[]): Knex.RawBinding[] =>
  QUOTE_COLUMNS.map(
    (column) =>
      quotes.map((q) => {
        const value = q[column];
        return value instanceof Date ? value.toISOString() : value;
      }) as Knex.RawBinding,
  );

export async function writeRunUnnest(db: Knex, run: RunWrite): Promise<{ snapshotsInserted: number; coinsUpdated: number }> {
  if (run.metadata.length > 0) throw new Error('the reference does not store metadata');
  return db.transaction(async (trx) => {
    await trx.raw('lock table market_listings in share row exclusive mode');
    await upsertCoins(trx, run.coins);
    const { rows } = await trx.raw<{ rows: { inserted: number }[] }>(
      `with q as materialized (select * from ${QUOTE_ARRAYS}),
       snapshots as (
         insert into quote_snapshots (${QUOTE_COLUMN_LIST}) select * from q on conflict do nothing returning 1),
       latest as (
         insert into latest_quotes (${QUOTE_COLUMN_LIST}) select * from q
         on conflict (coin_id, currency) do update set ${LATEST_QUOTE_UPDATE}
         where excluded.last_updated > latest_quotes.last_updated
         returning 1),
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
