import type { Knex } from 'knex';

/*
 * When the fetcher last failed to refresh a coin's metadata (the upstream
 * refused it, or sent a record the database cannot hold). The fetcher refreshes
 * the coins whose last attempt, failed or not, is oldest first, so a coin whose
 * record keeps failing waits its turn behind the others instead of being
 * picked first again on every run.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table coins add column metadata_failed_at timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table coins drop column if exists metadata_failed_at');
}
