import { createLogger, parseConfig } from '@cryptoagg/core';
import type { QuoteRow, SnapshotSource } from '@cryptoagg/db';
import type { MarketItem } from '@cryptoagg/fake-upstream';
import type { TestDatabase } from '@cryptoagg/testkit';
import { fetcherConfigSchema, type FetcherConfig } from '../src/config.js';
import { runFetch, type RunResult } from '../src/run.js';

export function configFor(env: Record<string, string>): FetcherConfig {
  const parsed = parseConfig(fetcherConfigSchema, env);
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  return parsed.config;
}

/** Environment for a fetcher run against the fake: fast retries, no metadata unless asked, no exchange sources unless asked. */
export function fetcherEnv(t: TestDatabase, upstreamUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: t.url,
    EXCHANGE_SOURCES: 'none',
    COINGECKO_BASE_URL: upstreamUrl,
    COINGECKO_RATE_LIMIT_PER_MIN: '10000',
    FETCH_RETRY_BASE_MS: '20',
    FETCH_METADATA_PER_RUN: '0',
    FETCH_MAX_COINS: '1000',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

export function runInProcess(t: TestDatabase, env: Record<string, string>, rateWindowMs?: number): Promise<RunResult> {
  return runFetch({
    config: configFor(env),
    db: t.db,
    databaseUrl: t.url,
    logger: createLogger('fetcher-test', 'silent'),
    ...(rateWindowMs ? { rateWindowMs } : {}),
  });
}

export async function truncateAll(t: TestDatabase): Promise<void> {
  await t.db.raw('truncate coins, latest_quotes, quote_snapshots, fetch_runs restart identity');
}

/** What a stored quote must be for an item the upstream served: its numbers unchanged, nulls kept. */
export function expectedQuote(item: MarketItem, currency: string): Omit<QuoteRow, 'fetched_at'> {
  return {
    coin_id: item.id,
    currency,
    last_updated: new Date(item.last_updated),
    price: item.current_price,
    market_cap: item.market_cap,
    total_volume: item.total_volume,
    high_24h: item.high_24h,
    low_24h: item.low_24h,
    price_change_24h: item.price_change_24h,
    price_change_percentage_24h: item.price_change_percentage_24h,
    circulating_supply: item.circulating_supply,
  };
}

export async function storedQuotes(t: TestDatabase, table: 'latest_quotes' | 'quote_snapshots', currency: string) {
  // quote_snapshots also says who stored a snapshot (source): the fetcher's tests compare the quote alone.
  const rows = await t.db<QuoteRow & { source?: SnapshotSource }>(table).where({ currency }).orderBy('coin_id').orderBy('last_updated');
  return rows.map(({ fetched_at: _fetchedAt, source: _source, ...rest }) => rest);
}

export async function count(t: TestDatabase, table: string): Promise<number> {
  const [row] = await t.db(table).count<{ count: number }[]>('* as count');
  return Number(row?.count ?? 0);
}
