import type { Cache } from '@cryptoagg/cache';
import type { Knex } from '@cryptoagg/db';
import { batchSizeHistogram, type DataVersion } from '@cryptoagg/graphql';
import type { Registry } from 'prom-client';
import DataLoader from 'dataloader';
import { coinsByIds } from './data.js';
import type { CoinModel } from './models.js';

export interface Services {
  db: Knex;
  cache: Cache;
  version: DataVersion;
  registry: Registry;
}

export interface Context {
  services: Services;
  /** every cache key of this request starts with it: a finished fetcher run changes it */
  keyPrefix: string;
  coinById: DataLoader<string, CoinModel | null>;
}

/**
 * One per request. The loader answers N entity lookups (Query.coin, the
 * gateway's _entities for a page of markets) with one cache MGET and at most
 * one SQL query for the ids the cache did not have.
 */
export function createContext(services: Services): Context {
  const keyPrefix = `v${services.version.current()}:`;
  const batchSizes = batchSizeHistogram(services.registry);
  const coinById = new DataLoader<string, CoinModel | null>((ids) => {
    batchSizes.observe({ loader: 'coin' }, ids.length);
    return services.cache.getMany<CoinModel>(
      ids.map((id) => `${keyPrefix}coin:${id}`),
      async (missing) => {
        const rows = await coinsByIds(services.db, missing.map((key) => key.slice(`${keyPrefix}coin:`.length)));
        return new Map(rows.map((row) => [`${keyPrefix}coin:${row.id}`, row]));
      },
    );
  });
  return { services, keyPrefix, coinById };
}
