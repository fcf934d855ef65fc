import { decodeCursor, pageSize } from '@cryptoagg/graphql';
import type { QueryResolvers } from '../__generated__/resolvers-types.js';
import { searchCoins } from '../data.js';
import type { CoinPage } from '../models.js';
import { coinConnection } from './connection.js';

export const Query: QueryResolvers = {
  coin: (_parent, { id }, { coinById }) => coinById.load(id),

  coins: async (_parent, { search, first, after }, context) => {
    const size = pageSize(first);
    const position = decodeCursor(after);
    const term = search?.trim() || null;
    const key = `${context.keyPrefix}coins:${JSON.stringify([term?.toLowerCase() ?? null, size, after ?? null])}`;
    const page = await context.services.cache.get<CoinPage>(key, () => searchCoins(context.services.db, term, size, position));
    for (const coin of page.coins) context.coinById.prime(coin.id, coin);
    return coinConnection(page);
  },
};
