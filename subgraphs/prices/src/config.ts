import { env, loadConfig } from '@cryptoagg/core';
import { requireSecretInProduction, subgraphConfig, subgraphEnvSchema } from '@cryptoagg/graphql';
import type { z } from 'zod';

export const pricesConfigSchema = subgraphEnvSchema('PRICES_PORT', 4002)
  .extend({ FETCH_CURRENCIES: env.currencies })
  .refine(requireSecretInProduction.check, requireSecretInProduction.params)
  .transform((e) => ({ ...subgraphConfig('prices', e.PRICES_PORT, e), currencies: e.FETCH_CURRENCIES }));

export type PricesConfig = z.output<typeof pricesConfigSchema>;
export const loadPricesConfig = (source: NodeJS.ProcessEnv = process.env): PricesConfig => loadConfig(pricesConfigSchema, source);
