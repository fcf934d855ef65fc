import { createDb, migrateLatest } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { FETCHER_MAIN } from '@cryptoagg/stack';
import { scratchDatabase } from './postgres.js';
import { runScript } from './processes.js';
import { startRedisServer, type RedisServer } from './redis.js';
import { startServices, type Services } from './services.js';

/**
 * The real system for benchmarks and soaks, on this machine only: a private
 * database (a fresh one on DATABASE_URL's server, or a throwaway embedded
 * PostgreSQL), a private Redis, the fake upstream, one fetcher run, and the
 * subgraphs and the gateway as separate processes, as in production.
 */
export interface Stack extends Services {
  gatewayUrl: string;
  databaseUrl: string;
  redis: RedisServer;
  fake: FakeCoinGecko;
}

export async function startStack(
  options: { adminDatabaseUrl?: string | undefined; coins?: number; cache?: boolean; env?: Record<string, string>; bundles?: boolean } = {},
): Promise<Stack> {
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const db = await scratchDatabase(options.adminDatabaseUrl, 'stack');
    cleanups.push(() => db.stop());
    const knex = createDb({ url: db.url, poolMax: 1 });
    await migrateLatest(knex);
    await knex.destroy();
    const [fake, redis] = await Promise.all([startFakeCoinGecko({ coins: options.coins ?? 250 }), startRedisServer()]);
    cleanups.push(
      () => fake.close(),
      () => redis.stop(),
    );
    const fetched = await runScript(FETCHER_MAIN, {
      DATABASE_URL: db.url,
      COINGECKO_BASE_URL: fake.url,
      COINGECKO_RATE_LIMIT_PER_MIN: '10000',
      FETCH_MAX_COINS: String(options.coins ?? 250),
      FETCH_METADATA_PER_RUN: '250',
      LOG_LEVEL: 'warn',
    });
    if (fetched.code !== 0) throw new Error(`fetcher failed:\n${fetched.stdout}${fetched.stderr}`);
    const services = await startServices({
      databaseUrl: db.url,
      ...(options.cache === false ? {} : { redisUrl: redis.url }),
      ...(options.env ? { env: options.env } : {}),
      ...(options.bundles ? { bundles: true } : {}),
      readyWithinMs: 30_000,
    });
    cleanups.push(() => services.stop());
    return { ...services, gatewayUrl: services.url('gateway'), databaseUrl: db.url, redis, fake, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
