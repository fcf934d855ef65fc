import { loadConfig, subgraph } from '@cryptoagg/core';
import { subgraphConfig, subgraphEnvSchema } from '@cryptoagg/graphql';
import type { z } from 'zod';

const coins = subgraph('coins');

export const coinsConfigSchema = subgraphEnvSchema(coins).transform((e) => subgraphConfig(coins, e));

export type CoinsConfig = z.output<typeof coinsConfigSchema>;
export const loadCoinsConfig = (source: NodeJS.ProcessEnv = process.env): CoinsConfig => loadConfig(coinsConfigSchema, source);
