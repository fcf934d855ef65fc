import type { CoinRow } from '@cryptoagg/db';

/** What Coin resolvers receive: a coins row (from Postgres, or from the cache, where dates are ISO strings). */
export type CoinModel = Pick<
  CoinRow,
  'id' | 'symbol' | 'name' | 'image' | 'market_cap_rank' | 'description' | 'homepage' | 'categories' | 'genesis_date'
>;

export interface CoinPage {
  totalCount: number;
  hasNextPage: boolean;
  coins: CoinModel[];
}
