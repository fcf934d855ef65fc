import { env, loadConfig, subgraph } from '@cryptoagg/core';
import { subgraphConfig, subgraphEnvSchema } from '@cryptoagg/graphql';
import type { z } from 'zod';

const prices = subgraph('prices');

export const pricesConfigSchema = subgraphEnvSchema(prices)
  .extend({ FETCH_CURRENCIES: env.currencies })
  .transform((e) => ({ ...subgraphConfig(prices, e), currencies: e.FETCH_CURRENCIES }));

export type PricesConfig = z.output<typeof pricesConfigSchema>;
export const loadPricesConfig = (source: NodeJS.ProcessEnv = process.env): PricesConfig => loadConfig(pricesConfigSchema, source);
