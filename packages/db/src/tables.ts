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

/** Who stored a snapshot (quote_snapshots.source): the fetcher's runs, or `npm run backfill` from /coins/{id}/market_chart. */
export type SnapshotSource = 'fetcher' | 'backfill';

/**
 * A row of quote_rollups_hourly or quote_rollups_daily: the snapshots of one coin in one currency
 * within one UTC bucket (an hour, a day) starting at `bucket`, maintained by a trigger on quote_snapshots.
 */
export interface RollupRow {
  coin_id: string;
  currency: string;
  bucket: Date;
  /** the price of the bucket's first snapshot (by last_updated) */
  open: number;
  high: number;
  low: number;
  /** the price of the bucket's last snapshot (by last_updated) */
  close: number;
  /** of the bucket's last snapshot */
  market_cap: number | null;
  /** of the bucket's last snapshot (the upstream's 24 h volume) */
  total_volume: number | null;
  samples: number;
  first_at: Date;
  last_at: Date;
}

export type RollupInterval = 'HOUR' | 'DAY';

/** The rollup table of each bucket size. */
export const ROLLUP_TABLES = { HOUR: 'quote_rollups_hourly', DAY: 'quote_rollups_daily' } as const satisfies Record<RollupInterval, string>;

/** A partition the retention dropped; the newest range_to per table is where that table's complete data starts. */
export interface RetentionDropRow {
  id: number;
  table_name: string;
  partition_name: string;
  range_from: Date;
  range_to: Date;
  dropped_at: Date;
}

/** A finished task of `npm run backfill`: one coin in one currency over `days` days. */
export interface BackfillProgressRow {
  coin_id: string;
  currency: string;
  days: number;
  points_received: number;
  points_stored: number;
  finished_at: Date;
}

/** The monthly-partitioned tables the retention drops old partitions of: the raw snapshots and the hourly rollups. */
export const RETENTION_TABLES = ['quote_snapshots', 'quote_rollups_hourly'] as const;

export type RetentionTable = (typeof RETENTION_TABLES)[number];

/** An exchange source read besides CoinGecko (source_runs.source, source_quotes.source). */
export type ExchangeSourceName = 'binance' | 'coinbase' | 'kraken';

/**
 * A row of source_quotes (the history) or latest_source_quotes (each source's newest successful run):
 * one exchange pair mapped to a coin and a currency, its price converted to that currency.
 */
export interface SourceQuoteRow {
  source: ExchangeSourceName;
  /** the exchange's own symbol: BTCUSDT, BTC-USD, XBTUSD */
  pair: string;
  /** when the fetcher received the ticker */
  time: Date;
  coin_id: string;
  currency: string;
  /** in `currency`: a stablecoin-quoted price times the stablecoin's stored usd price */
  price: number;
  /** the pair's quote asset as the exchange names it, normalised (USD, USDT, USDC, EUR, BTC) */
  quote_asset: string;
  /** the price as the exchange quoted it, in quote_asset */
  quote_price: number;
  /** 24 h volume in units of the base asset, as the exchange reports it */
  volume: number | null;
}

/** One exchange source's attempt within a fetch run. */
export interface SourceRunRow {
  id: number;
  fetch_run_id: number;
  source: ExchangeSourceName;
  status: FetchRunStatus;
  started_at: Date;
  finished_at: Date | null;
  requests: number;
  pairs_listed: number;
  items_skipped: number;
  quotes_stored: number;
  upstream_errors: Record<string, number>;
  error: string | null;
  /** the data version its commit took (from fetch_runs' id sequence); null until it stored quotes */
  version: number | null;
}
