import type { CoinResolvers } from '../__generated__/resolvers-types.js';

export const Coin: CoinResolvers = {
  __resolveReference: ({ id }, { coinById }) => coinById.load(id),
  marketCapRank: (coin) => coin.market_cap_rank,
  genesisDate: (coin) => coin.genesis_date,
};
