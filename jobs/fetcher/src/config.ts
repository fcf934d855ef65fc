import { env, loadConfig, requiredInProduction } from '@cryptoagg/core';
import { z } from 'zod';
import { exchangeConfig, exchangeEnv, withExplicitNone } from './sources/config.js';

export const fetcherConfigSchema = z
  .object({
    DATABASE_URL: env.databaseUrl.optional(),
    REDIS_URL: env.redisUrl.optional(),
    REDIS_KEY_PREFIX: z.string().default('cryptoagg:'),
    COINGECKO_BASE_URL: env.httpUrl('https://api.coingecko.com/api/v3').default('https://api.coingecko.com/api/v3'),
    COINGECKO_API_KEY: z.string().optional(),
    COINGECKO_RATE_LIMIT_PER_MIN: env.int(30, 1, 10_000),
    FETCH_CURRENCIES: env.currencies,
    FETCH_MAX_COINS: env.int(250, 1, 10_000),
    FETCH_METADATA_PER_RUN: env.int(10, 0, 250),
    FETCH_METADATA_MAX_AGE_HOURS: env.int(24, 0, 24 * 365),
    FETCH_REQUEST_TIMEOUT_MS: env.int(15_000, 100, 120_000),
    FETCH_RETRY_BASE_MS: env.int(1_000, 1, 60_000),
    FETCH_RETRIES: env.int(5, 0, 20),
    // The deadline counts from the moment the run holds the lock; waiting for another run's lock has its own bound.
    FETCH_DEADLINE_SECONDS: env.int(240, 1, 3_600),
    FETCH_LOCK_WAIT_SECONDS: env.int(240, 1, 3_600),
    // Applies pending migrations before the run (idempotent). Kubernetes runs migrations as a hook Job and sets it to false.
    MIGRATE_ON_START: z.enum(['true', 'false']).default('true'),
    // Measured from the newest stored snapshot (retention.ts). At least 62 days: a run stores snapshots up to two calendar
    // months older than its newest (window.ts), and those must land in partitions the retention keeps.
    RETENTION_RAW_DAYS: env.int(90, 62, 36_500),
    RETENTION_HOURLY_DAYS: env.int(730, 62, 36_500),
    ...exchangeEnv,
    LOG_LEVEL: env.logLevel,
    NODE_ENV: env.nodeEnv,
  })
  .refine(...requiredInProduction.DATABASE_URL)
  // Hourly rollups dropped before the snapshots they summarise could not be rebuilt from them.
  .refine((e) => e.RETENTION_HOURLY_DAYS >= e.RETENTION_RAW_DAYS, {
    path: ['RETENTION_HOURLY_DAYS'],
    message: 'must not be less than RETENTION_RAW_DAYS',
  })
  .transform((e) => ({
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    coingeckoBaseUrl: e.COINGECKO_BASE_URL.replace(/\/+$/, ''),
    coingeckoApiKey: e.COINGECKO_API_KEY,
    ratePerMinute: e.COINGECKO_RATE_LIMIT_PER_MIN,
    currencies: e.FETCH_CURRENCIES,
    maxCoins: e.FETCH_MAX_COINS,
    metadataPerRun: e.FETCH_METADATA_PER_RUN,
    metadataMaxAgeHours: e.FETCH_METADATA_MAX_AGE_HOURS,
    requestTimeoutMs: e.FETCH_REQUEST_TIMEOUT_MS,
    retryBaseMs: e.FETCH_RETRY_BASE_MS,
    retries: e.FETCH_RETRIES,
    deadlineMs: e.FETCH_DEADLINE_SECONDS * 1_000,
    lockWaitMs: e.FETCH_LOCK_WAIT_SECONDS * 1_000,
    migrateOnStart: e.MIGRATE_ON_START === 'true',
    retentionRawDays: e.RETENTION_RAW_DAYS,
    retentionHourlyDays: e.RETENTION_HOURLY_DAYS,
    exchanges: exchangeConfig(e),
    logLevel: e.LOG_LEVEL,
  }));

export type FetcherConfig = z.output<typeof fetcherConfigSchema>;

export const loadFetcherConfig = (source: NodeJS.ProcessEnv = process.env): FetcherConfig => loadConfig(fetcherConfigSchema, withExplicitNone(source));
