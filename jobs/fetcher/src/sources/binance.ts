import { z } from 'zod';
import { UpstreamError } from '../upstream/client.js';
import { describeIssues } from '../upstream/schemas.js';
import { normalizeAsset } from './mapping.js';
import { decimal, pairName, type ExchangeAdapter, type ListedPair, type Ticker } from './types.js';

/**
 * Binance spot: `GET /api/v3/exchangeInfo` (symbols with baseAsset, quoteAsset, status) and
 * `GET /api/v3/ticker/24hr` (every symbol in one answer); price = lastPrice, volume = volume, both
 * strings. A symbol not TRADING, or whose lastPrice is 0 (a halted pair still listed, as 51 of 595
 * were in the 2019 sample), is left out.
 */

const symbolSchema = z.object({ symbol: pairName, status: z.string(), baseAsset: z.string().min(1), quoteAsset: z.string().min(1) });
const tickerSchema = z.object({ symbol: pairName, lastPrice: decimal, volume: decimal.nullable().optional() });

const listOf = (data: unknown, path: string, field?: string): unknown[] => {
  const list = field === undefined ? data : (data as Record<string, unknown> | null)?.[field];
  if (!Array.isArray(list)) throw new UpstreamError(`GET ${path}: not the expected shape (${field ?? 'a JSON array'})`, 'invalid', false);
  return list;
};

export const binance: ExchangeAdapter = {
  name: 'binance',
  // Binance allows 6,000 request weight a minute; a run makes two requests (weights 20 and 80).
  rate: { limit: 20, windowMs: 60_000 },

  async listPairs({ http, tally }) {
    const path = '/api/v3/exchangeInfo';
    const pairs: ListedPair[] = [];
    for (const raw of listOf(await http.get(path), path, 'symbols')) {
      const parsed = symbolSchema.safeParse(raw);
      if (!parsed.success) {
        tally.skip(`exchangeInfo symbol: ${describeIssues(parsed.error)}`);
        continue;
      }
      const s = parsed.data;
      if (s.status !== 'TRADING') {
        tally.notTrading += 1;
        continue;
      }
      pairs.push({ pair: s.symbol, base: normalizeAsset(s.baseAsset), quote: normalizeAsset(s.quoteAsset) });
    }
    return pairs;
  },

  async fetchTickers({ http, tally }, pairs) {
    const path = '/api/v3/ticker/24hr';
    const wanted = new Set(pairs.map((p) => p.pair));
    const tickers: Ticker[] = [];
    for (const raw of listOf(await http.get(path), path)) {
      const symbol = (raw as { symbol?: unknown } | null)?.symbol;
      if (typeof symbol !== 'string' || !wanted.has(symbol)) continue;
      const parsed = tickerSchema.safeParse(raw);
      if (!parsed.success) {
        tally.skip(`${symbol}: ${describeIssues(parsed.error)}`);
        continue;
      }
      if (parsed.data.lastPrice === 0) {
        tally.notTrading += 1;
        continue;
      }
      tickers.push({ pair: symbol, price: parsed.data.lastPrice, volume: parsed.data.volume ?? null });
    }
    return tickers;
  },
};
