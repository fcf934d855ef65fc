import type { QuoteRow } from '@cryptoagg/db';

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

export interface HistoryPointModel {
  time: Date | string;
  price: number;
  market_cap: number | null;
  total_volume: number | null;
}

export interface FetchStatusModel {
  last_success_at: Date | string | null;
  last_attempt_at: Date | string | null;
  coins_updated: number;
  last_fetched_at: Date | string | null;
}

export type Interval = 'RAW' | 'HOUR' | 'DAY';
