import { env, loadConfig } from '@cryptoagg/core';
import { z } from 'zod';

const schema = z.object({
  DATABASE_URL: env.databaseUrl.optional(),
  FETCH_SCHEDULE: z.string().default('*/5 * * * *'),
  COINS_PORT: env.port(4001),
  PRICES_PORT: env.port(4002),
  LOG_LEVEL: env.logLevel,
});

export const config = loadConfig(schema);

/** Children parse their own configuration from the same environment (they fail fast on their own). */
export const inheritedEnvironment = (): NodeJS.ProcessEnv => ({ ...process.env });
