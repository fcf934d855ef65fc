import type { Knex } from 'knex';

/*
 * latest_quotes loses its foreign key to coins, like quote_snapshots never had
 * one: the fetcher upserts the coins first in the same transaction, and the
 * per-row check cost a fifth of the store (bench/RESULTS.md: writeRun 381 ->
 * 298 ms for 15,000 quotes).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table latest_quotes drop constraint if exists latest_quotes_coin_id_fkey');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table latest_quotes add constraint latest_quotes_coin_id_fkey foreign key (coin_id) references coins (id) on delete cascade');
}
