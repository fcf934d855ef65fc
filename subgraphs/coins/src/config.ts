import { loadConfig } from '@cryptoagg/core';
import { requireSecretInProduction, subgraphConfig, subgraphEnvSchema } from '@cryptoagg/graphql';
import type { z } from 'zod';

export const coinsConfigSchema = subgraphEnvSchema('COINS_PORT', 4001)
  .refine(requireSecretInProduction.check, requireSecretInProduction.params)
  .transform((e) => subgraphConfig('coins', e.COINS_PORT, e));

export type CoinsConfig = z.output<typeof coinsConfigSchema>;
export const loadCoinsConfig = (source: NodeJS.ProcessEnv = process.env): CoinsConfig => loadConfig(coinsConfigSchema, source);
