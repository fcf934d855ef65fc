import { env } from '@cryptoagg/core';
import type { ExchangeSourceName } from '@cryptoagg/db';
import { z } from 'zod';

/** Every exchange source the fetcher can read, in the order they are listed and reported. */
const EXCHANGE_SOURCES = ['binance', 'coinbase', 'kraken'] as const satisfies readonly ExchangeSourceName[];

const isSource = (name: string): name is ExchangeSourceName => (EXCHANGE_SOURCES as readonly string[]).includes(name);

/**
 * The variables of the exchange sources (CONTRACT section 8), spread into the fetcher's schema.
 * EXCHANGE_SOURCES empty means CoinGecko only: an empty variable normally counts as unset, so
 * loadFetcherConfig passes an explicitly empty one on as `none`, which is accepted too.
 */
export const exchangeEnv = {
  EXCHANGE_SOURCES: z
    .string()
    .default(EXCHANGE_SOURCES.join(','))
    .transform((v) => [
      ...new Set(
        v
          .split(',')
          .map((s) => s.trim().toLowerCase())
          .filter((s) => s !== '' && s !== 'none'),
      ),
    ])
    .refine((list) => list.every(isSource), { message: `must be a comma-separated list of ${EXCHANGE_SOURCES.join(', ')} (empty or none: CoinGecko only)` })
    .transform((list) => EXCHANGE_SOURCES.filter((s) => list.includes(s))),
  BINANCE_BASE_URL: env.httpUrl('https://api.binance.com').default('https://api.binance.com'),
  COINBASE_BASE_URL: env.httpUrl('https://api.exchange.coinbase.com').default('https://api.exchange.coinbase.com'),
  KRAKEN_BASE_URL: env.httpUrl('https://api.kraken.com').default('https://api.kraken.com'),
  // The budget of one source's own requests in a run (waiting for the CoinGecko part not counted): a hanging
  // exchange costs at most this, and never the CoinGecko part or another source.
  EXCHANGE_DEADLINE_SECONDS: env.int(120, 1, 3_600),
};

type ExchangeEnv = { [K in keyof typeof exchangeEnv]: z.output<(typeof exchangeEnv)[K]> };

export interface ExchangeConfig {
  sources: ExchangeSourceName[];
  baseUrls: Record<ExchangeSourceName, string>;
  deadlineMs: number;
}

const trimmed = (url: string) => url.replace(/\/+$/, '');

export const exchangeConfig = (e: ExchangeEnv): ExchangeConfig => ({
  sources: e.EXCHANGE_SOURCES,
  baseUrls: { binance: trimmed(e.BINANCE_BASE_URL), coinbase: trimmed(e.COINBASE_BASE_URL), kraken: trimmed(e.KRAKEN_BASE_URL) },
  deadlineMs: e.EXCHANGE_DEADLINE_SECONDS * 1_000,
});

/** An explicitly empty EXCHANGE_SOURCES means "none" (the contract's CoinGecko only), not "unset". */
export const withExplicitNone = (source: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  source.EXCHANGE_SOURCES !== undefined && source.EXCHANGE_SOURCES.trim() === '' ? { ...source, EXCHANGE_SOURCES: 'none' } : source;
