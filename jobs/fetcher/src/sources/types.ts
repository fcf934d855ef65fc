import type { ExchangeSourceName } from '@cryptoagg/db';
import { z } from 'zod';
import type { Upstream, UpstreamError } from '../upstream/client.js';

/** A tradable pair as an exchange lists it, its assets normalised (mapping.ts normalizeAsset). */
export interface ListedPair {
  /** the exchange's own symbol, what the API shows: BTCUSDT, BTC-USD, XBTUSD */
  pair: string;
  base: string;
  quote: string;
  /** another name the exchange answers tickers under (Kraken's XXBTZUSD for XBTUSD) */
  resultKey?: string;
}

/** A pair's last price (in its quote asset) and 24 h volume (in its base asset). */
export interface Ticker {
  pair: string;
  price: number;
  volume: number | null;
}

/** What a source's run met besides good data, for its run record and its log line. */
export class SourceTally {
  /** items that could not be read (malformed, missing fields), and per-pair requests that failed */
  skipped = 0;
  /** pairs left out as not trading: halted at a price of 0, not online, trading disabled */
  notTrading = 0;
  /** a few reasons, for the log */
  readonly reasons: string[] = [];

  skip(reason: string): void {
    this.skipped += 1;
    if (this.reasons.length < 5) this.reasons.push(reason);
  }
}

export interface AdapterContext {
  http: Upstream;
  tally: SourceTally;
  /** the source's own abort signal: its deadline, or the run's */
  signal: AbortSignal;
}

/** One exchange behind the same three steps: list its pairs, fetch tickers of the pairs we want, map them (mapping.ts). */
export interface ExchangeAdapter {
  name: ExchangeSourceName;
  /** its own rate limit: at most `limit` requests (retries included) in any `windowMs` */
  rate: { limit: number; windowMs: number };
  /** judges a 200 answer before the adapter reads it (Kraken's errors in HTTP 200) */
  inspect?: (data: unknown, path: string) => UpstreamError | undefined;
  listPairs(ctx: AdapterContext): Promise<ListedPair[]>;
  fetchTickers(ctx: AdapterContext, pairs: readonly ListedPair[]): Promise<Ticker[]>;
}

/**
 * A decimal the way exchanges send numbers: as a JSON string ("60755.18000000"), or a JSON number.
 * Anything else ("abc", "", "1e999", "-1") is not a number we store.
 */
export const decimal = z
  .union([z.string().regex(/^\d+(\.\d+)?([eE][-+]?\d+)?$/, 'expected a decimal string'), z.number()])
  .transform(Number)
  .pipe(z.number().finite().nonnegative());

/**
 * An exchange's name of a pair, stored and shown as is: letters, digits and the separators exchanges use,
 * at most 40 characters. Anything else (a NUL, a very long string) is no pair we can hold or show.
 */
export const pairName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._\-/]{0,39}$/, 'expected a pair name of letters, digits, . _ - / (at most 40)');

/** Runs `step` for each item with at most `limit` in flight; the throttle inside the client paces the requests. */
export async function eachLimited<T, R>(items: readonly T[], limit: number, step: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await step(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
