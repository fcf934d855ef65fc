import { decodeCursor, encodeCursor, pageSize, quoteCurrency } from '@cryptoagg/graphql';
import type { QueryResolvers } from '../__generated__/resolvers-types.js';
import { fetchStatus, marketsPage } from '../data.js';
import type { FetchStatusModel, MarketPage } from '../models.js';

export const Query: QueryResolvers = {
  markets: async (_parent, { currency, first, after }, context) => {
    const code = quoteCurrency(currency, context.currencies);
    const size = pageSize(first);
    const position = decodeCursor(after);
    // Keyed by the decoded position: bounded (a cursor's id is at most 200 characters), whatever the client sent.
    const key = `${context.keyPrefix}markets:${JSON.stringify([code, size, position ? [position.rank, position.id] : null])}`;
    const page = await context.services.cache.get<MarketPage>(key, () => marketsPage(context.services.db, code, size, position));
    const edges = page.rows.map((row) => {
      // The page already holds each coin's quote in this currency: Coin.quote needs no second lookup.
      context.quote.prime({ currency: code, coinId: row.coin_id }, row);
      return { cursor: encodeCursor({ rank: row.market_cap_rank, id: row.coin_id }), node: { id: row.coin_id } };
    });
    return {
      totalCount: page.totalCount,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      edges,
    };
  },

  fetchStatus: (_parent, _args, context) =>
    context.services.cache.get<FetchStatusModel>(`${context.keyPrefix}fetchStatus`, () => fetchStatus(context.services.db)),
};
