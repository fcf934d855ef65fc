import { parseArgs } from 'node:util';
import { createLogger, redactUrls } from '@cryptoagg/core';
import { createDb, migrateLatest, resolveDatabase } from '@cryptoagg/db';
import { BackfillArgumentError, etaMs, progressBar, runBackfill, type BackfillOptions } from './backfill.js';
import { loadFetcherConfig } from './config.js';

/**
 * `npm run backfill -- --days N [--coins id,id] [--currency c]`: history from
 * /coins/{id}/market_chart (backfill.ts), with the fetcher's configuration
 * (COINGECKO_*, FETCH_CURRENCIES, DATABASE_URL). On a terminal a progress bar
 * with an ETA on stderr; otherwise (a Kubernetes Job, a pipe) one log line per
 * task. Exit 0 when every task is done, 1 when one failed (run it again: it
 * resumes), on bad arguments or when it cannot run; SIGINT / SIGTERM stop it
 * between two tasks' commits.
 */
const config = loadFetcherConfig();
const logger = createLogger('backfill', config.logLevel);

function parseOptions(): BackfillOptions {
  const { values } = parseArgs({
    options: { days: { type: 'string' }, coins: { type: 'string' }, currency: { type: 'string' } },
  });
  if (values.days === undefined || !/^\d+$/.test(values.days))
    throw new BackfillArgumentError(`--days: required, a whole number of days (got ${values.days ?? 'nothing'})`);
  const coins = values.coins
    ?.split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  if (coins?.length === 0) throw new BackfillArgumentError('--coins: list at least one coin id, e.g. --coins bitcoin,ethereum');
  return { days: Number(values.days), coins, currency: values.currency?.trim().toLowerCase() };
}

let options: BackfillOptions;
try {
  options = parseOptions();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

const shutdown = new AbortController();
for (const name of ['SIGTERM', 'SIGINT'] as const) process.once(name, () => shutdown.abort(new Error(`received ${name}`)));

const tty = process.stderr.isTTY;
const server = await resolveDatabase(config.databaseUrl, (line) => logger.debug({ postgres: line.trim() }));
const db = createDb({ url: server.url, poolMax: 2, applicationName: 'cryptoagg-backfill' });
try {
  if (config.migrateOnStart) await migrateLatest(db);
  const result = await runBackfill(
    {
      config,
      db,
      databaseUrl: server.url,
      logger,
      signal: shutdown.signal,
      onProgress: (p) => {
        if (tty) {
          process.stderr.write(`\r${progressBar(p, 30).padEnd(process.stderr.columns - 1)}`);
          return;
        }
        const eta = etaMs(p);
        logger.info(
          {
            done: p.done,
            total: p.total,
            coin: p.task.coinId,
            currency: p.task.currency,
            stored: p.stored,
            etaSeconds: eta === undefined ? null : Math.round(eta / 1000),
          },
          'backfill progress',
        );
      },
    },
    options,
  );
  if (tty) process.stderr.write('\n');
  logger.info(
    { backfill: { days: options.days, ...result } },
    result.failed === 0 ? 'backfill finished' : 'backfill finished with failed tasks; run it again to retry them',
  );
  process.exitCode = result.failed === 0 ? 0 : 1;
} catch (error) {
  if (tty) process.stderr.write('\n');
  const message = shutdown.signal.aborted
    ? `stopped: ${shutdown.signal.reason instanceof Error ? shutdown.signal.reason.message : String(shutdown.signal.reason)}; run it again to resume`
    : redactUrls(error instanceof Error ? error.message : String(error));
  logger.error({ error: message }, 'backfill failed');
  process.exitCode = 1;
} finally {
  await db.destroy();
  await server.stop();
}
