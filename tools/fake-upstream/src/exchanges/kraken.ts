import { decimalText, KRAKEN_PAIRS } from './markets.js';
import type { Answer, ExchangeDefinition, ExchangeState } from './server.js';

/**
 * Kraken: GET /0/public/AssetPairs and GET /0/public/Ticker?pair=A,B,... shaped like the real answers
 * (upstream-samples/kraken): `{"error":[],"result":{...}}`, numbers as strings, legacy asset codes
 * (XXBT, XXDG, ZUSD), tickers keyed by the pair's AssetPairs key whatever name it was asked by, and
 * errors in HTTP 200 (`{"error":["EQuery:Unknown asset pair"]}`, or those the `errors` fault sets).
 */

function route(path: string, query: URLSearchParams, state: ExchangeState): Answer {
  if (state.faults.errors?.length && path.startsWith('/0/public/')) return [200, { error: state.faults.errors }];
  if (path === '/0/public/AssetPairs') {
    return [
      200,
      {
        error: [],
        result: Object.fromEntries(
          KRAKEN_PAIRS.map((p) => [
            p.key,
            {
              altname: p.pair,
              wsname: p.wsname,
              aclass_base: 'currency',
              base: p.baseCode,
              aclass_quote: 'currency',
              quote: p.quoteCode,
              lot: 'unit',
              cost_decimals: 5,
              pair_decimals: 5,
              lot_decimals: 8,
              lot_multiplier: 1,
              fee_volume_currency: 'ZUSD',
              margin_call: 80,
              margin_stop: 40,
              ordermin: '0.0001',
              costmin: '0.5',
              tick_size: '0.00001',
              status: p.notTrading ? 'cancel_only' : 'online',
            },
          ]),
        ),
      },
    ];
  }
  if (path === '/0/public/Ticker') {
    const names = (query.get('pair') ?? '').split(',').filter((n) => n !== '');
    const result: Record<string, unknown> = {};
    for (const name of names) {
      const pair = KRAKEN_PAIRS.find((p) => p.pair === name || p.key === name);
      if (!pair) return [200, { error: ['EQuery:Unknown asset pair'] }];
      const served = state.served(pair) ?? { price: '0.00000', volume: '0.00000000' };
      result[pair.key] = {
        a: [served.price, '1', '1.000'],
        b: [served.price, '1', '1.000'],
        c: [served.price, '0.00009443'],
        v: [served.volume, served.volume],
        p: [served.price, served.price],
        t: [35, 3276],
        l: [served.price, served.price],
        h: [served.price, served.price],
        o: served.price,
      };
    }
    return [200, { error: [], result }];
  }
  return [404, { error: ['EGeneral:Unknown method'] }];
}

export const KRAKEN: ExchangeDefinition = {
  name: 'kraken',
  pairs: KRAKEN_PAIRS,
  format: (value, kind) => (kind === 'price' ? decimalText(value, 8) : value.toFixed(8)),
  rateLimited: { error: ['EAPI:Rate limit exceeded'] },
  route,
};
