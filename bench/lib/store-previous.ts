import { DATA_CHANGED_CHANNEL, type Knex } from '@cryptoagg/db';
import { LATEST_QUOTE_UPDATE, QUOTE_ARRAYS, QUOTE_COLUMN_LIST, quoteArrays, upsertCoins, type RunWrite } from '../../jobs/fetcher/src/store.js';

/**
 * The fetcher store the product used before, kept to measure old against new
 * (bench/ingest.ts).
 *
 * The single statement (a materialized CTE over the column arrays feeding both
 * the snapshots and the latest quotes) was tried here first and has since been
 * adopted by the product (jobs/fetcher/src/store.ts, commit 0ef9aa3). What
 * this file keeps is the writeRun it replaced, its SQL as it was (the column
 * lists and arrays are the product's): two
 * statements over the same twelve 15,000-element arrays, which node-postgres
 * serialises and the server parses twice. The benchmark times the product
 * against it and checks both store identical rows. Never used by the product.
 * (Metadata updates are left out: the benchmark runs with none.)
 */

export async function writeRunTwoStatements(db: Knex, run: RunWrite): Promise<{ snapshotsInserted: number; coinsUpdated: number }> {
  if (run.metadata.length > 0) throw new Error('the reference does not store metadata');
  return db.transaction(async (trx) => {
    await upsertCoins(trx, run.coins);
    const arrays = quoteArrays(run.quotes);
    const inserted = await trx.raw<{ rowCount: number }>(
      `insert into quote_snapshots (${QUOTE_COLUMN_LIST}) select * from ${QUOTE_ARRAYS} on conflict do nothing`,
      arrays,
    );
    await trx.raw(
      `insert into latest_quotes (${QUOTE_COLUMN_LIST}) select * from ${QUOTE_ARRAYS}
       on conflict (coin_id, currency) do update set ${LATEST_QUOTE_UPDATE}
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
