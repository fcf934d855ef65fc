import { decodeCursor, pageSize, textArgument } from '@cryptoagg/graphql';
import type { QueryResolvers } from '../__generated__/resolvers-types.js';
import { searchCoins } from '../data.js';
import type { CoinPage } from '../models.js';
import { coinConnection } from './connection.js';

/** Longer search terms match no name or symbol the upstream has, and only cost a scan. */
const MAX_SEARCH_LENGTH = 200;

export const Query: QueryResolvers = {
  coin: (_parent, { id }, { coinById }) => coinById.load(id),

  coins: async (_parent, { search, first, after }, context) => {
    const size = pageSize(first);
    const position = decodeCursor(after);
    const term = textArgument('search', search, MAX_SEARCH_LENGTH);
    // The term as given: folding it here (toLowerCase) would share one entry between terms that
    // PostgreSQL's ILIKE tells apart (in the C locale a Kelvin sign is not "k"), and let one cache
    // an empty page for the other.
    const key = `${context.keyPrefix}coins:${JSON.stringify([term, size, position ? [position.rank, position.id] : null])}`;
    const page = await context.services.cache.get<CoinPage>(key, () => searchCoins(context.services.db, term, size, position));
    for (const coin of page.coins) context.coinById.prime(coin.id, coin);
    return coinConnection(page);
  },
};
