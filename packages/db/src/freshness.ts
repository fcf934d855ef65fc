import type { Knex } from 'knex';

/** When the newest stored quote was received from the upstream (null while nothing is stored). */
export async function lastFetchedAt(db: Knex): Promise<Date | null> {
  const row = await db('latest_quotes').max<{ max: Date | null }>('fetched_at as max').first();
  return row?.max ?? null;
}
