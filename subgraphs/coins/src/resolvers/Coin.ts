import type { CoinResolvers } from '../__generated__/resolvers-types.js';

export const Coin: CoinResolvers = {
  // A representation sent straight to the subgraph may carry any JSON as its id.
  __resolveReference: ({ id }: { id: unknown }, { coinById }) => (typeof id === 'string' ? coinById.load(id) : null),
  marketCapRank: (coin) => coin.market_cap_rank,
  genesisDate: (coin) => coin.genesis_date,
};
