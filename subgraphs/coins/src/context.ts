import { batchSizeHistogram, type SubgraphServices } from '@cryptoagg/graphql';
import DataLoader from 'dataloader';
import { coinsByIds } from './data.js';
import type { CoinModel } from './models.js';

/** What a request needs of the subgraph's wiring (packages/graphql/src/subgraph.ts). */
export type Services = Pick<SubgraphServices, 'db' | 'cache' | 'version' | 'registry'>;

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
