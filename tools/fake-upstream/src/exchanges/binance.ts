import { BINANCE_PAIRS } from './markets.js';
import type { Answer, ExchangeDefinition, ExchangeState } from './server.js';

/**
 * Binance spot: GET /api/v3/exchangeInfo and GET /api/v3/ticker/24hr (every symbol, or one with
 * `symbol=`), shaped like the real answers (upstream-samples/binance): every number a string with 8
 * decimals, halted symbols at "0.00000000" with firstId/lastId -1 and count 0, BREAK symbols listed.
 */

const DAY = 86_400_000;

function ticker(symbol: string, price: string, volume: string, now: number): Record<string, unknown> {
  const halted = Number(price) === 0;
  return {
    symbol,
    priceChange: '0.00000000',
    priceChangePercent: '0.000',
    weightedAvgPrice: price,
    prevClosePrice: price,
    lastPrice: price,
    lastQty: halted ? '0.00000000' : '1.00000000',
    bidPrice: price,
    bidQty: '1.00000000',
    askPrice: price,
    askQty: '1.00000000',
    openPrice: price,
    highPrice: price,
    lowPrice: price,
    volume,
    quoteVolume: halted ? '0.00000000' : (Number(volume) * Number(price)).toFixed(8),
    openTime: now - DAY,
    closeTime: now,
    firstId: halted ? -1 : 1_000,
    lastId: halted ? -1 : 2_000,
    count: halted ? 0 : 1_001,
  };
}

function route(path: string, query: URLSearchParams, state: ExchangeState): Answer {
  if (path === '/api/v3/ping') return [200, {}];
  if (path === '/api/v3/exchangeInfo') {
    return [
      200,
      {
        timezone: 'UTC',
        serverTime: Date.now(),
        rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 }],
        exchangeFilters: [],
        symbols: BINANCE_PAIRS.map((p) => ({
          symbol: p.pair,
          status: p.notTrading ? 'BREAK' : 'TRADING',
          baseAsset: p.base,
          baseAssetPrecision: 8,
          quoteAsset: p.quote,
          quotePrecision: 8,
          quoteAssetPrecision: 8,
          isSpotTradingAllowed: true,
        })),
      },
    ];
  }
  if (path === '/api/v3/ticker/24hr') {
    const now = Date.now();
    const all = BINANCE_PAIRS.map((p) => {
      const served = state.served(p);
      // A BREAK symbol (and one the data set cannot price) is in the answer halted, as in the 2019 sample.
      return ticker(p.pair, served?.price ?? '0.00000000', served?.volume ?? '0.00000000', now);
    });
    const symbol = query.get('symbol');
    if (symbol === null) return [200, all];
    const one = all.find((t) => t.symbol === symbol);
    return one ? [200, one] : [400, { code: -1121, msg: 'Invalid symbol.' }];
  }
  return [404, { code: -1, msg: 'Not found' }];
}

export const BINANCE: ExchangeDefinition = {
  name: 'binance',
  pairs: BINANCE_PAIRS,
  format: (value) => value.toFixed(8),
  rateLimited: { code: -1003, msg: 'Too many requests; current limit of IP is 6000 request weight per 1 MINUTE.' },
  route,
};
