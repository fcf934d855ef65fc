import { z } from 'zod';
import { UpstreamError } from '../upstream/client.js';
import { describeIssues } from '../upstream/schemas.js';
import { normalizeAsset } from './mapping.js';
import { decimal, eachLimited, pairName, type ExchangeAdapter, type ListedPair, type Ticker } from './types.js';

/**
 * Coinbase Exchange: `GET /products` (id, base_currency, quote_currency, status, trading_disabled) and
 * one `GET /products/{id}/ticker` per product (price, volume, time; numbers as strings). Only products
 * we want are asked for (the fetcher passes the pairs that map to the coins we list, FETCH_MAX_COINS,
 * in the configured currencies), most-wanted first. A product not `online`, or with trading disabled,
 * is left out; a ticker that cannot be read or fetched costs only its product.
 */

const productSchema = z.object({
  id: pairName,
  base_currency: z.string().min(1),
  quote_currency: z.string().min(1),
  status: z.string(),
  trading_disabled: z.boolean().optional(),
});
const tickerSchema = z.object({ price: decimal, volume: decimal.nullable().optional() });

/** Requests in flight at once: the client's throttle paces them to the public limit. */
const IN_FLIGHT = 5;

export const coinbase: ExchangeAdapter = {
  name: 'coinbase',
  // Coinbase Exchange's public endpoints allow 10 requests a second per IP.
  rate: { limit: 10, windowMs: 1_000 },

  async listPairs({ http, tally }) {
    const data = await http.get('/products');
    if (!Array.isArray(data)) throw new UpstreamError('GET /products: not a JSON array', 'invalid', false);
    const pairs: ListedPair[] = [];
    for (const raw of data) {
      const parsed = productSchema.safeParse(raw);
      if (!parsed.success) {
        tally.skip(`product: ${describeIssues(parsed.error)}`);
        continue;
      }
      const p = parsed.data;
      if (p.status !== 'online' || p.trading_disabled === true) {
        tally.notTrading += 1;
        continue;
      }
      pairs.push({ pair: p.id, base: normalizeAsset(p.base_currency), quote: normalizeAsset(p.quote_currency) });
    }
    return pairs;
  },

  async fetchTickers({ http, tally, signal }, pairs) {
    let firstError: unknown;
    let failed = 0;
    const tickers = await eachLimited(pairs, IN_FLIGHT, async ({ pair }): Promise<Ticker | undefined> => {
      try {
        const parsed = tickerSchema.safeParse(await http.get(`/products/${encodeURIComponent(pair)}/ticker`));
        if (!parsed.success) {
          tally.skip(`${pair}: ${describeIssues(parsed.error)}`);
          return undefined;
        }
        if (parsed.data.price === 0) {
          tally.notTrading += 1;
          return undefined;
        }
        return { pair, price: parsed.data.price, volume: parsed.data.volume ?? null };
      } catch (error) {
        // The deadline or the run's end stops the source; anything else costs this product only.
        if (signal.aborted) throw error;
        firstError ??= error;
        failed += 1;
        tally.skip(`${pair}: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      }
    });
    // Not one ticker answered: the exchange is down, not a product.
    if (pairs.length > 0 && failed === pairs.length) throw firstError instanceof Error ? firstError : new Error(String(firstError));
    return tickers.filter((t): t is Ticker => t !== undefined);
  },
};
