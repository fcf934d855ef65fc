import type { CoinRow } from '@cryptoagg/db';

/** The columns of coins the API reads. */
export const COIN_COLUMNS = [
  'id',
  'symbol',
  'name',
  'image',
  'market_cap_rank',
  'description',
  'homepage',
  'categories',
  'genesis_date',
] as const satisfies readonly (keyof CoinRow)[];

/** What Coin resolvers receive: a coins row (from Postgres, or from the cache, where dates are ISO strings). */
export type CoinModel = Pick<CoinRow, (typeof COIN_COLUMNS)[number]>;

export interface CoinPage {
  totalCount: number;
  hasNextPage: boolean;
  coins: CoinModel[];
}
