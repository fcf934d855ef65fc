import { env, loadConfig, subgraph } from '@cryptoagg/core';
import { subgraphConfig, subgraphEnvSchema } from '@cryptoagg/graphql';
import { z } from 'zod';

const prices = subgraph('prices');

export const pricesConfigSchema = subgraphEnvSchema(prices)
  .extend({
    FETCH_CURRENCIES: env.currencies,
    // The consensus price (CONTRACT section 8): a source quote older than this is stale and left out.
    CONSENSUS_MAX_AGE_SECONDS: env.int(600, 1, 7 * 86_400),
    // A fresh source further than this many percent from the median of the fresh ones is an outlier and left out.
    CONSENSUS_OUTLIER_PCT: z
      .string()
      .default('2')
      .refine((v) => /^\d+(\.\d+)?$/.test(v) && Number(v) > 0 && Number(v) <= 100, {
        message: 'must be a percentage above 0 and at most 100, like 2 or 0.5',
      })
      .transform(Number),
  })
  .transform((e) => ({
    ...subgraphConfig(prices, e),
    currencies: e.FETCH_CURRENCIES,
    consensus: { maxAgeSeconds: e.CONSENSUS_MAX_AGE_SECONDS, outlierPct: e.CONSENSUS_OUTLIER_PCT },
  }));

export type PricesConfig = z.output<typeof pricesConfigSchema>;
export const loadPricesConfig = (source: NodeJS.ProcessEnv = process.env): PricesConfig => loadConfig(pricesConfigSchema, source);
