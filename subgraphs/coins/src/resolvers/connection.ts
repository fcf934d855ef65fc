import { encodeCursor } from '@cryptoagg/graphql';
import type { ResolversTypes } from '../__generated__/resolvers-types.js';
import type { CoinModel, CoinPage } from '../models.js';

const cursorOf = (coin: CoinModel) => encodeCursor({ rank: coin.market_cap_rank, id: coin.id });

export function coinConnection(page: CoinPage): ResolversTypes['CoinConnection'] {
  const edges = page.coins.map((coin) => ({ cursor: cursorOf(coin), node: coin }));
  return {
    totalCount: page.totalCount,
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
    edges,
  };
}
