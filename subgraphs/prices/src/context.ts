import { batchSizeHistogram, possibleId, type SubgraphServices } from '@cryptoagg/graphql';
import DataLoader from 'dataloader';
import { latestQuotes } from './data.js';
import type { QuoteModel } from './models.js';

/** What a request needs of the subgraph's wiring (packages/graphql/src/subgraph.ts). */
export type Services = Pick<SubgraphServices, 'db' | 'cache' | 'version' | 'registry'>;

export interface Context {
  services: Services;
  currencies: readonly string[];
  /** every cache key of this request starts with it: a finished fetcher run changes it */
  keyPrefix: string;
  /** latest quote by `${currency}:${coinId}` */
  quote: DataLoader<string, QuoteModel | null>;
}

export const quoteKey = (currency: string, coinId: string) => `${currency}:${coinId}`;

/**
 * One per request. The quote loader turns the N `quote` fields of a page into
 * one cache MGET per currency and at most one SQL query for what it missed. A coin id the
 * database cannot hold has no quote: null at once, never part of a shared query it would fail.
 */
export function createContext(services: Services, currencies: readonly string[]): Context {
  const keyPrefix = `v${services.version.current()}:`;
  const batchSizes = batchSizeHistogram(services.registry);
  const quote = new DataLoader<string, QuoteModel | null>(async (keys) => {
    batchSizes.observe({ loader: 'quote' }, keys.length);
    const byCurrency = new Map<string, string[]>();
    for (const key of keys) {
      const [currency = '', ...rest] = key.split(':');
      const id = rest.join(':');
      if (possibleId(id)) byCurrency.set(currency, [...(byCurrency.get(currency) ?? []), id]);
    }
    const found = new Map<string, QuoteModel | null>();
    await Promise.all(
      [...byCurrency].map(async ([currency, ids]) => {
        const cacheKeys = ids.map((id) => `${keyPrefix}quote:${quoteKey(currency, id)}`);
        const values = await services.cache.getMany<QuoteModel>(cacheKeys, async (missing) => {
          const rows = await latestQuotes(services.db, currency, missing.map((k) => k.slice(`${keyPrefix}quote:${currency}:`.length)));
          return new Map(rows.map((row) => [`${keyPrefix}quote:${quoteKey(currency, row.coin_id)}`, row]));
        });
        ids.forEach((id, i) => found.set(quoteKey(currency, id), values[i] ?? null));
      }),
    );
    return keys.map((key) => found.get(key) ?? null);
  });
  return { services, currencies, keyPrefix, quote };
}
