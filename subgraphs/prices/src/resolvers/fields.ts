import type { FetchStatusResolvers, HistoryPointResolvers, QuoteResolvers } from '../__generated__/resolvers-types.js';
import { sourceStatuses, type SourceStatusModel } from '../sources.js';

/** Row columns to GraphQL field names; everything else maps by name. */

export const Quote: QuoteResolvers = {
  marketCap: (q) => q.market_cap,
  totalVolume: (q) => q.total_volume,
  high24h: (q) => q.high_24h,
  low24h: (q) => q.low_24h,
  priceChange24h: (q) => q.price_change_24h,
  priceChangePercentage24h: (q) => q.price_change_percentage_24h,
  circulatingSupply: (q) => q.circulating_supply,
  lastUpdated: (q) => q.last_updated,
  fetchedAt: (q) => q.fetched_at,
  consensus: async (q, _args, context) => (await context.judge(q)).consensus,
  sources: async (q, _args, context) =>
    (await context.judge(q)).sources.map((s) => ({
      source: s.source,
      pair: s.pair,
      price: s.price,
      volume24h: s.volume,
      fetchedAt: s.fetchedAt,
      stale: s.stale,
      outlier: s.outlier,
    })),
};

export const HistoryPoint: HistoryPointResolvers = {
  marketCap: (p) => p.market_cap,
  totalVolume: (p) => p.total_volume,
};

export const FetchStatus: FetchStatusResolvers = {
  lastSuccessAt: (s) => s.last_success_at,
  lastAttemptAt: (s) => s.last_attempt_at,
  coinsUpdated: (s) => s.coins_updated,
  lastFetchedAt: (s) => s.last_fetched_at,
  sources: (_s, _args, context) =>
    context.services.cache.get<SourceStatusModel[]>(`${context.keyPrefix}sourceStatuses`, () => sourceStatuses(context.services.db)),
};
