import { possibleId, type SubgraphServices } from '@cryptoagg/graphql';
import { DATALOADER_BATCH_SIZE, histogram } from '@cryptoagg/metrics';
import DataLoader from 'dataloader';
import { latestQuotes } from './data.js';
import type { QuoteModel } from './models.js';
import type { ConsensusOptions } from './consensus.js';
import { createJudge, createSourcesLoader } from './sources.js';

/** What a request needs of the subgraph's wiring (packages/graphql/src/subgraph.ts). */
export type Services = Pick<SubgraphServices, 'db' | 'cache' | 'version' | 'registry'>;

/** One latest quote: a coin's in a currency. */
interface QuoteRef {
  currency: string;
  coinId: string;
}

const quoteKey = ({ currency, coinId }: QuoteRef) => `${currency}:${coinId}`;

export interface Context {
  services: Services;
  currencies: readonly string[];
  /** every cache key of this request starts with it: a finished fetcher run changes it */
  keyPrefix: string;
  quote: DataLoader<QuoteRef, QuoteModel | null, string>;
  /** a quote's consensus and evidence, judged at this request's instant (sources.ts) */
  judge: ReturnType<typeof createJudge>;
}

/**
 * One per request. The quote loader turns the N `quote` fields of a page into
 * one cache MGET per currency and at most one SQL query for what it missed. A coin id the
 * database cannot hold has no quote: null at once, never part of a shared query it would fail.
 */
export function createContext(services: Services, currencies: readonly string[], consensus: ConsensusOptions): Context {
  const keyPrefix = `v${services.version.current()}:`;
  const batchSizes = histogram(services.registry, DATALOADER_BATCH_SIZE);
  const quote = new DataLoader<QuoteRef, QuoteModel | null, string>(
    async (refs) => {
      batchSizes.observe({ loader: 'quote' }, refs.length);
      const byCurrency = new Map<string, string[]>();
      for (const { currency, coinId } of refs) {
        if (!possibleId(coinId)) continue;
        const ids = byCurrency.get(currency);
        if (ids) ids.push(coinId);
        else byCurrency.set(currency, [coinId]);
      }
      const found = new Map<string, QuoteModel | null>();
      await Promise.all(
        [...byCurrency].map(async ([currency, ids]) => {
          const values = await services.cache.getMany(
            ids,
            (coinId) => `${keyPrefix}quote:${quoteKey({ currency, coinId })}`,
            async (missing) => new Map((await latestQuotes(services.db, currency, missing)).map((row): [string, QuoteModel] => [row.coin_id, row])),
          );
          ids.forEach((coinId, i) => found.set(quoteKey({ currency, coinId }), values[i] ?? null));
        }),
      );
      return refs.map((ref) => found.get(quoteKey(ref)) ?? null);
    },
    { cacheKeyFn: quoteKey },
  );
  const judge = createJudge(createSourcesLoader(services, keyPrefix), consensus, new Date());
  return { services, currencies, keyPrefix, quote, judge };
}
