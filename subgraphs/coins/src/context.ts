import { possibleId, type SubgraphServices } from '@cryptoagg/graphql';
import { DATALOADER_BATCH_SIZE, histogram } from '@cryptoagg/metrics';
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
 * one SQL query for the ids the cache did not have. An id no coin can have (NUL, an unpaired
 * surrogate, over 200 characters) is null at once: sent along, it would fail the batch's one query
 * for every id in it, and every request sharing that lookup.
 */
export function createContext(services: Services): Context {
  const keyPrefix = `v${services.version.current()}:`;
  const batchSizes = histogram(services.registry, DATALOADER_BATCH_SIZE);
  const coinById = new DataLoader<string, CoinModel | null>(async (ids) => {
    batchSizes.observe({ loader: 'coin' }, ids.length);
    const possible = ids.filter(possibleId);
    if (possible.length === 0) return ids.map(() => null);
    const found = await services.cache.getMany(
      possible,
      (id) => `${keyPrefix}coin:${id}`,
      async (missing) => new Map((await coinsByIds(services.db, missing)).map((row): [string, CoinModel] => [row.id, row])),
    );
    const byId = new Map(possible.map((id, i) => [id, found[i] ?? null]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  return { services, keyPrefix, coinById };
}
