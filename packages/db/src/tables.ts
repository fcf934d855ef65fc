/** Row types of the tables created by the migrations; services map them to GraphQL types. */

export interface CoinRow {
  id: string;
  symbol: string;
  name: string;
  image: string | null;
  market_cap_rank: number | null;
  description: string | null;
  homepage: string | null;
  categories: string[];
  genesis_date: string | null;
  metadata_refreshed_at: Date | null;
  /** when the last metadata refresh failed (the upstream refused it or sent a record the database cannot hold) */
  metadata_failed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface QuoteValues {
  price: number;
  market_cap: number | null;
  total_volume: number | null;
  high_24h: number | null;
  low_24h: number | null;
  price_change_24h: number | null;
  price_change_percentage_24h: number | null;
  circulating_supply: number | null;
}

/** A row of latest_quotes or quote_snapshots (same columns). */
export interface QuoteRow extends QuoteValues {
  coin_id: string;
  currency: string;
  last_updated: Date;
  fetched_at: Date;
}

/** A coin listed by markets(currency): the newest successful run in that currency fetched it. */
export interface MarketListingRow {
  currency: string;
  coin_id: string;
  /** the run from which on the coin has been listed without a break */
  since_run_id: number;
}

export type FetchRunStatus = 'running' | 'succeeded' | 'failed';

export interface FetchRunRow {
  id: number;
  started_at: Date;
  finished_at: Date | null;
  status: FetchRunStatus;
  currencies: string[];
  requests: number;
  items_received: number;
  items_skipped: number;
  coins_updated: number;
  snapshots_inserted: number;
  metadata_updated: number;
  metadata_skipped: number;
  upstream_errors: Record<string, number>;
  error: string | null;
}

export const QUOTE_VALUE_COLUMNS = [
  'price',
  'market_cap',
  'total_volume',
  'high_24h',
  'low_24h',
  'price_change_24h',
  'price_change_percentage_24h',
  'circulating_supply',
] as const satisfies readonly (keyof QuoteValues)[];

/**
 * The columns of latest_quotes and quote_snapshots (a QuoteRow), in table order: the SQL that
 * writes or reads whole quotes lists them from here. Migrations keep their own frozen copy.
 */
export const QUOTE_COLUMNS = ['coin_id', 'currency', 'last_updated', 'fetched_at', ...QUOTE_VALUE_COLUMNS] as const satisfies readonly (keyof QuoteRow)[];

export type QuoteColumn = (typeof QUOTE_COLUMNS)[number];

/** pg_notify channel the fetcher signals after each successful commit. */
export const DATA_CHANGED_CHANNEL = 'cryptoagg_data_changed';
/** Redis key (after the configured prefix) holding the data version, bumped on each successful run. */
export const DATA_VERSION_KEY = 'data_version';
