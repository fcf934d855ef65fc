import { parseArgs } from 'node:util';
import { createLogger, env, loadConfig } from '@cryptoagg/core';
import { createDb, resolveDatabase } from '@cryptoagg/db';
import { z } from 'zod';
import { checkedSince, verifyHistory } from './verify.js';

/**
 * `npm run verify`: checks the stored history for gaps, duplicates and
 * non-monotonic times, and the hourly and daily rollups against the snapshots
 * they summarise, from where the retention keeps them; prints a report, and
 * exits 1 when it finds any problem (2 when it cannot check).
 *   --days N       how far back to look (default 7)
 *   --max-gap M    a gap is more than M minutes between consecutive snapshots of one coin and currency (default 15)
 *   --json         the report as JSON
 */
const config = loadConfig(z.object({ DATABASE_URL: env.databaseUrl.optional(), LOG_LEVEL: env.logLevel }));
const { values } = parseArgs({
  options: { days: { type: 'string', default: '7' }, 'max-gap': { type: 'string', default: '15' }, json: { type: 'boolean', default: false } },
});
const days = Number(values.days);
const maxGapMinutes = Number(values['max-gap']);
if (!Number.isFinite(days) || days <= 0 || !Number.isFinite(maxGapMinutes) || maxGapMinutes <= 0) {
  process.stderr.write('--days and --max-gap must be positive numbers\n');
  process.exit(1);
}
const logger = createLogger('verify', config.LOG_LEVEL);
const server = await resolveDatabase(config.DATABASE_URL);
const db = createDb({ url: server.url, poolMax: 1, applicationName: 'cryptoagg-verify' });
try {
  const problems = await verifyHistory(db, { days, maxGapMinutes });
  const { since, retainedFrom } = await checkedSince(db, days);
  const [count] = await db('quote_snapshots').where('last_updated', '>=', since).count<{ count: number }[]>('* as count');
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ days, maxGapMinutes, snapshots: Number(count?.count ?? 0), retainedFrom: retainedFrom?.toISOString() ?? null, problems }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`checked ${Number(count?.count ?? 0)} snapshots of the last ${days} day(s); a gap is over ${maxGapMinutes} min\n`);
    if (retainedFrom) process.stdout.write(`the retention dropped the snapshots before ${retainedFrom.toISOString()}: checked from there\n`);
    for (const kind of ['gap', 'duplicate', 'non-monotonic', 'stale-latest', 'rollup', 'retention'] as const) {
      const found = problems.filter((p) => p.kind === kind);
      process.stdout.write(`${kind}: ${found.length}\n`);
      for (const p of found) process.stdout.write(`  ${p.coin} ${p.currency}: ${p.detail}\n`);
    }
    process.stdout.write(problems.length === 0 ? 'no problems found\n' : `${problems.length} problem(s) found\n`);
  }
  process.exitCode = problems.length === 0 ? 0 : 1;
} catch (error) {
  logger.error({ error: error instanceof Error ? error.message : String(error) }, 'verify failed');
  process.exitCode = 2;
} finally {
  await db.destroy();
  await server.stop();
}
