import { createLogger, redactUrls } from '@cryptoagg/core';
import { createDb, migrateLatest, resolveDatabase } from '@cryptoagg/db';
import { loadFetcherConfig } from './config.js';
import { FetchRunFailed, runFetch } from './run.js';

const config = loadFetcherConfig();
const logger = createLogger('fetcher', config.logLevel);
const shutdown = new AbortController();
for (const name of ['SIGTERM', 'SIGINT'] as const) {
  process.once(name, () => shutdown.abort(new Error(`received ${name}`)));
}

const server = await resolveDatabase(config.databaseUrl, (line) => logger.debug({ postgres: line.trim() }));
const db = createDb({ url: server.url, poolMax: 4, applicationName: 'cryptoagg-fetcher' });
try {
  if (config.migrateOnStart) await migrateLatest(db);
  await runFetch({ config, db, databaseUrl: server.url, logger, signal: shutdown.signal });
} catch (error) {
  // runFetch logs its own failures; this covers those before a run starts (no database, say).
  if (!(error instanceof FetchRunFailed)) {
    logger.error({ error: redactUrls(error instanceof Error ? error.message : String(error)) }, 'fetch run failed');
  }
  process.exitCode = 1;
} finally {
  await db.destroy();
  await server.stop();
}
