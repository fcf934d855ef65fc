import type { Knex } from 'knex';

/*
 * markets(currency) lists the coins of the newest successful run in that
 * currency, not every coin that ever had a quote: latest_quotes keeps a coin
 * that left the top FETCH_MAX_COINS (coin(id) still answers with its last
 * quote), so the listing needs a table of its own. Each successful run makes
 * the rows of its currencies its own coins, in the transaction that stores its
 * quotes; since_run_id is the run from which on a coin has been listed without
 * a break (rows that stay are not rewritten).
 *
 * No foreign keys, as for latest_quotes: the fetcher writes the coins and the
 * quotes first in the same transaction, and tooling truncates coins and
 * fetch_runs without knowing this table.
 *
 * The backfill keeps today's answer (every coin with a latest quote) until
 * the first run after the upgrade replaces it: an empty markets page in
 * between would be worse than a few stale entries.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table market_listings (
      currency text not null,
      coin_id text collate "C" not null,
      since_run_id bigint not null,
      primary key (currency, coin_id)
    );

    insert into market_listings (currency, coin_id, since_run_id)
    select currency, coin_id, coalesce((select max(id) from fetch_runs where status = 'succeeded'), 0)
      from latest_quotes;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists market_listings');
}
