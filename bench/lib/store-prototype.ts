import { DATA_CHANGED_CHANNEL, type Knex, type QuoteRow } from '@cryptoagg/db';
import type { RunWrite } from '../../jobs/fetcher/src/store.js';

/**
 * The fetcher store's before and after, for bench/ingest.ts.
 *
 * The single statement (a materialized CTE over the column arrays feeding both
 * the snapshots and the latest quotes) was prototyped here and has since been
 * adopted by the product (jobs/fetcher/src/store.ts, commit 0ef9aa3). What
 * this file keeps is the writeRun it replaced, verbatim in its SQL: two
 * statements over the same twelve 15,000-element arrays, which node-postgres
 * serialises and the server parses twice. The benchmark times the product
 * against it and checks both store identical rows. Never used by the product.
 * (Metadata updates are left out: the benchmark runs with none.)
 */

const COLUMNS = `coin_id, currency, last_updated, fetched_at, price, market_cap, total_volume, high_24h, low_24h,
  price_change_24h, price_change_percentage_24h, circulating_supply`;

const QUOTE_ARRAYS = `unnest(
  ?::text[], ?::text[], ?::timestamptz[], ?::timestamptz[],
  ?::float8[], ?::float8[], ?::float8[], ?::float8[], ?::float8[], ?::float8[], ?::float8[], ?::float8[]
) as q(${COLUMNS})`;

const array = (values: unknown[]): Knex.RawBinding => values as Knex.RawBinding;

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

export async function writeRunTwoStatements(db: Knex, run: RunWrite): Promise<{ snapshotsInserted: number; coinsUpdated: number }> {
  if (run.metadata.length > 0) throw new Error('the reference does not store metadata');
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
    const arrays = quoteArrays(run.quotes);
    const inserted = await trx.raw<{ rowCount: number }>(
      `insert into quote_snapshots (${COLUMNS}) select * from ${QUOTE_ARRAYS} on conflict do nothing`,
      arrays,
    );
    await trx.raw(
      `insert into latest_quotes (${COLUMNS}) select * from ${QUOTE_ARRAYS}
       on conflict (coin_id, currency) do update set
         last_updated = excluded.last_updated, fetched_at = excluded.fetched_at, price = excluded.price,
         market_cap = excluded.market_cap, total_volume = excluded.total_volume, high_24h = excluded.high_24h,
         low_24h = excluded.low_24h, price_change_24h = excluded.price_change_24h,
         price_change_percentage_24h = excluded.price_change_percentage_24h,
         circulating_supply = excluded.circulating_supply
       where excluded.last_updated > latest_quotes.last_updated`,
      arrays,
    );
    const snapshotsInserted = inserted.rowCount;
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
