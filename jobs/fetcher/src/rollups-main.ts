import { parseArgs } from 'node:util';
import { createLogger, env, loadConfig } from '@cryptoagg/core';
import { createDb, resolveDatabase } from '@cryptoagg/db';
import { z } from 'zod';
import { rebuildRollups, verifyRollups } from './rollups.js';

/**
 * `npm run rollups -- rebuild`: recomputes the hourly and daily rollups from the stored snapshots
 * (from where the retention keeps them complete), a month at a time; exit 0.
 * `npm run rollups -- verify [--days N]`: compares them with the snapshots of the last N days
 * (default 7), prints each bucket that differs, exit 1 when one does.
 * Exit 2 when it cannot run (no database, a bad argument).
 */
const config = loadConfig(z.object({ DATABASE_URL: env.databaseUrl.optional(), LOG_LEVEL: env.logLevel }));
const logger = createLogger('rollups', config.LOG_LEVEL);
const { values, positionals } = parseArgs({ allowPositionals: true, options: { days: { type: 'string', default: '7' } } });
const command = positionals.join(' ');
const days = Number(values.days);
if ((command !== 'rebuild' && command !== 'verify') || !Number.isInteger(days) || days <= 0) {
  process.stderr.write(`usage: npm run rollups -- rebuild | verify [--days N] (N a whole number of days above 0; got "${command}" --days ${values.days})\n`);
  process.exit(2);
}
const server = await resolveDatabase(config.DATABASE_URL);
const db = createDb({ url: server.url, poolMax: 1, applicationName: 'cryptoagg-rollups' });
try {
  if (command === 'rebuild') {
    const result = await rebuildRollups(db, (month) =>
      logger.info({ from: month.from.toISOString(), to: month.to.toISOString(), hourly: month.hourly, daily: month.daily }, 'rebuilt the rollups of a month'),
    );
    logger.info({ ...result, from: result.from?.toISOString() ?? null }, 'rollups rebuilt');
  } else {
    const since = new Date(Date.now() - days * 86_400_000);
    const mismatches = await verifyRollups(db, since);
    for (const m of mismatches) process.stdout.write(`${m.interval} ${m.coin} ${m.currency} ${m.bucket.toISOString()}: ${m.detail}\n`);
    process.stdout.write(
      mismatches.length === 0 ? `the rollups of the last ${days} day(s) match their snapshots\n` : `${mismatches.length} bucket(s) differ\n`,
    );
    process.exitCode = mismatches.length === 0 ? 0 : 1;
  }
} catch (error) {
  logger.error({ error: error instanceof Error ? error.message : String(error) }, 'rollups failed');
  process.exitCode = 2;
} finally {
  await db.destroy();
  await server.stop();
}
