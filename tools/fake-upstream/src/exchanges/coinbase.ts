import { COINBASE_PAIRS, decimalText } from './markets.js';
import type { Answer, ExchangeDefinition, ExchangeState } from './server.js';

/**
 * Coinbase Exchange: GET /products and GET /products/{id}/ticker (the id case-insensitive, as the
 * 2017 sample's `btc-usd` shows), shaped like the real answers: numbers as strings, `time` an ISO
 * timestamp with microseconds.
 */

function route(path: string, _query: URLSearchParams, state: ExchangeState): Answer {
  if (path === '/products') {
    return [
      200,
      COINBASE_PAIRS.map((p) => ({
        id: p.pair,
        base_currency: p.base,
        quote_currency: p.quote,
        quote_increment: p.quote === 'BTC' ? '0.00001' : '0.01',
        base_increment: '0.00000001',
        display_name: p.pair.replace('-', '/'),
        min_market_funds: '1',
        margin_enabled: false,
        post_only: false,
        limit_only: false,
        cancel_only: false,
        // XLM-EUR is delisted; ADA-EUR is online with trading disabled.
        status: p.notTrading && p.pair === 'XLM-EUR' ? 'delisted' : 'online',
        status_message: '',
        trading_disabled: p.notTrading === true && p.pair !== 'XLM-EUR',
        fx_stablecoin: false,
        auction_mode: false,
      })),
    ];
  }
  const match = /^\/products\/([^/]+)\/ticker$/.exec(path);
  if (match?.[1]) {
    const id = decodeURIComponent(match[1]).toUpperCase();
    const pair = COINBASE_PAIRS.find((p) => p.pair === id);
    if (!pair) return [404, { message: 'NotFound' }];
    const served = state.served(pair);
    if (!served) return [404, { message: 'NotFound' }];
    return [
      200,
      {
        ask: served.price,
        bid: served.price,
        volume: served.volume,
        trade_id: 21_554_152 + state.round,
        price: served.price,
        size: '0.00000225',
        time: new Date().toISOString().replace('Z', '000Z'),
        rfq_volume: '0',
        conversions_volume: '0',
      },
    ];
  }
  return [404, { message: 'NotFound' }];
}

export const COINBASE: ExchangeDefinition = {
  name: 'coinbase',
  pairs: COINBASE_PAIRS,
  format: (value, kind) => (kind === 'price' ? decimalText(value, 8) : value.toFixed(8)),
  rateLimited: { message: 'Public rate limit exceeded' },
  route,
};
