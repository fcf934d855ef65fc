import type { QuoteRow, QuoteValues } from '@cryptoagg/db';

/** Cached rows carry their dates as ISO strings; the DateTime scalar serialises either. */
type Cached<T> = { [K in keyof T]: T[K] extends Date ? Date | string : T[K] extends Date | null ? Date | string | null : T[K] };

/** The prices subgraph's Coin: just the key; quote and history resolve from it. */
export interface CoinRef {
  id: string;
}

export type QuoteModel = Cached<QuoteRow>;

export interface MarketRow extends QuoteModel {
  market_cap_rank: number | null;
}

export interface MarketPage {
  totalCount: number;
  hasNextPage: boolean;
  rows: MarketRow[];
}

/** The values of a snapshot that a history point shows. */
export const HISTORY_COLUMNS = ['price', 'market_cap', 'total_volume'] as const satisfies readonly (keyof QuoteValues)[];

export type HistoryPointModel = { time: Date | string } & Pick<QuoteValues, (typeof HISTORY_COLUMNS)[number]>;

export interface FetchStatusModel {
  last_success_at: Date | string | null;
  last_attempt_at: Date | string | null;
  coins_updated: number;
  last_fetched_at: Date | string | null;
}

export type Interval = 'RAW' | 'HOUR' | 'DAY';

/** A candle as the rollups hold it (data.ts `candles`): the GraphQL Candle's fields by name. */
export interface CandleModel {
  time: Date | string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
  samples: number;
}
