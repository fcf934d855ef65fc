import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { binance } from '../src/sources/binance.js';
import { coinbase } from '../src/sources/coinbase.js';
import { kraken } from '../src/sources/kraken.js';
import { createMapping, normalizeAsset, selectPairs, toRows } from '../src/sources/mapping.js';
import { SourceTally, type AdapterContext, type ListedPair } from '../src/sources/types.js';
import { UpstreamError, type Upstream } from '../src/upstream/client.js';

/**
 * Every exchange's traps, on the real answers in ./samples (shared/upstream-samples): numbers as strings,
 * halted pairs at zero, errors in HTTP 200, Kraken's XBT / XDG and X/Z-prefixed names and its ticker
 * answers keyed by another name than the one asked for.
 */
const sample = (file: string): unknown => JSON.parse(readFileSync(new URL(`./samples/${file}`, import.meta.url), 'utf8'));

/** An Upstream that answers each path with a fixed body (after the adapter's inspect, as the real client does). */
function stub(bodies: Record<string, unknown>, inspect?: (data: unknown, path: string) => UpstreamError | undefined): AdapterContext & { asked: string[] } {
  const asked: string[] = [];
  const http: Upstream = {
    stats: { requests: 0, errors: {} },
    get: (path: string, params: Record<string, string | number> = {}) => {
      asked.push(Object.keys(params).length ? `${path}?${new URLSearchParams(params as Record<string, string>).toString()}` : path);
      if (!(path in bodies)) return Promise.reject(new UpstreamError(`GET ${path}: HTTP 404`, '404', false));
      const problem = inspect?.(bodies[path], path);
      return problem ? Promise.reject(problem) : Promise.resolve(bodies[path]);
    },
  };
  return { http, tally: new SourceTally(), signal: new AbortController().signal, asked };
}

describe('Binance (2019 sample of /ticker/24hr: 595 symbols, 51 halted)', () => {
  const info = {
    symbols: [
      { symbol: 'BTCUSDT', status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDT' },
      { symbol: 'BTCUSDC', status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDC' },
      { symbol: 'ETHBTC', status: 'TRADING', baseAsset: 'ETH', quoteAsset: 'BTC' },
      { symbol: 'DOGEBTC', status: 'TRADING', baseAsset: 'DOGE', quoteAsset: 'BTC' },
      // Listed as trading, but halted in the ticker answer: lastPrice "0.00000000", count 0.
      { symbol: 'BCCBTC', status: 'TRADING', baseAsset: 'BCC', quoteAsset: 'BTC' },
      { symbol: 'HSRBTC', status: 'BREAK', baseAsset: 'HSR', quoteAsset: 'BTC' },
      { symbol: 42, status: 'TRADING' },
      // A name the database could not hold (NUL) or the API should not show: no pair.
      { symbol: 'BTC\u0000USDT', status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDT' },
    ],
  };

  it('reads numbers sent as strings exactly and leaves out halted and non-trading symbols', async () => {
    const ctx = stub({ '/api/v3/exchangeInfo': info, '/api/v3/ticker/24hr': sample('ticker_24hr_all_symbols_api-v1_2019-08-22.json') });
    const pairs = await binance.listPairs(ctx);
    expect(pairs.map((p) => [p.pair, p.base, p.quote])).toEqual([
      ['BTCUSDT', 'BTC', 'USDT'],
      ['BTCUSDC', 'BTC', 'USDC'],
      ['ETHBTC', 'ETH', 'BTC'],
      ['DOGEBTC', 'DOGE', 'BTC'],
      ['BCCBTC', 'BCC', 'BTC'],
    ]);
    const tickers = await binance.fetchTickers(ctx, pairs);
    expect(tickers).toEqual([
      { pair: 'ETHBTC', price: 0.018647, volume: 155370.912 },
      { pair: 'BTCUSDT', price: 9912.33, volume: 47889.130573 },
      { pair: 'BTCUSDC', price: 9900.67, volume: 3679.660346 },
      { pair: 'DOGEBTC', price: 0.00000026, volume: 134804318 },
    ]);
    // HSRBTC (BREAK) when listing, BCCBTC (lastPrice 0) when reading tickers; the symbols 42 and BTC\0USDT are unreadable.
    expect(ctx.tally.notTrading).toBe(2);
    expect(ctx.tally.skipped).toBe(2);
    expect(ctx.asked).toEqual(['/api/v3/exchangeInfo', '/api/v3/ticker/24hr']);
  });

  it('refuses an answer of another shape (the single-symbol object form) instead of reading nothing', async () => {
    const ctx = stub({ '/api/v3/ticker/24hr': sample('ticker_24hr_symbol-BTCUSDT_2021-10-22.json') });
    await expect(binance.fetchTickers(ctx, [{ pair: 'BTCUSDT', base: 'BTC', quote: 'USDT' }])).rejects.toThrow(
      'GET /api/v3/ticker/24hr: not the expected shape (a JSON array)',
    );
  });

  it('skips a malformed number ("abc", a negative, an exponent overflow) and keeps the rest', async () => {
    const ctx = stub({
      '/api/v3/ticker/24hr': [
        { symbol: 'BTCUSDT', lastPrice: 'abc', volume: '1.0' },
        { symbol: 'ETHBTC', lastPrice: '-1.5', volume: '1.0' },
        { symbol: 'BTCUSDC', lastPrice: '1e999', volume: '1.0' },
        { symbol: 'DOGEBTC', lastPrice: '0.00000026', volume: '5' },
      ],
    });
    const wanted = ['BTCUSDT', 'ETHBTC', 'BTCUSDC', 'DOGEBTC'].map((pair): ListedPair => ({ pair, base: 'X', quote: 'BTC' }));
    expect(await binance.fetchTickers(ctx, wanted)).toEqual([{ pair: 'DOGEBTC', price: 0.00000026, volume: 5 }]);
    expect(ctx.tally.skipped).toBe(3);
  });
});

describe('Coinbase Exchange (2017 GDAX sample of /products/btc-usd/ticker)', () => {
  it('reads price and volume sent as strings; leaves out products not online or with trading disabled', async () => {
    const ctx = stub({
      '/products': [
        { id: 'BTC-USD', base_currency: 'BTC', quote_currency: 'USD', status: 'online', trading_disabled: false },
        { id: 'XLM-EUR', base_currency: 'XLM', quote_currency: 'EUR', status: 'delisted', trading_disabled: false },
        { id: 'ADA-EUR', base_currency: 'ADA', quote_currency: 'EUR', status: 'online', trading_disabled: true },
      ],
      '/products/BTC-USD/ticker': sample('products_btc-usd_ticker_gdax_2017-10-03.json'),
    });
    const pairs = await coinbase.listPairs(ctx);
    expect(pairs).toEqual([{ pair: 'BTC-USD', base: 'BTC', quote: 'USD' }]);
    expect(ctx.tally.notTrading).toBe(2);
    expect(await coinbase.fetchTickers(ctx, pairs)).toEqual([{ pair: 'BTC-USD', price: 4417.01, volume: 7878.23402368 }]);
  });

  it('a product whose ticker fails costs only that product; every ticker failing fails the source', async () => {
    const ctx = stub({ '/products/BTC-USD/ticker': sample('products_btc-usd_ticker_gdax_2017-10-03.json') });
    const pairs: ListedPair[] = [
      { pair: 'BTC-USD', base: 'BTC', quote: 'USD' },
      { pair: 'ETH-USD', base: 'ETH', quote: 'USD' },
    ];
    expect(await coinbase.fetchTickers(ctx, pairs)).toEqual([{ pair: 'BTC-USD', price: 4417.01, volume: 7878.23402368 }]);
    expect(ctx.tally.skipped).toBe(1);
    await expect(coinbase.fetchTickers(stub({}), pairs)).rejects.toThrow('GET /products/BTC-USD/ticker: HTTP 404');
  });
});

describe('Kraken (2017 BCHEUR and 2025 XBTUSDT samples of /0/public/Ticker)', () => {
  const assetPairs = {
    error: [],
    result: {
      XBTUSDT: { altname: 'XBTUSDT', wsname: 'XBT/USDT', base: 'XXBT', quote: 'USDT', status: 'online' },
      BCHEUR: { altname: 'BCHEUR', wsname: 'BCH/EUR', base: 'BCH', quote: 'ZEUR', status: 'online' },
      XXBTZUSD: { altname: 'XBTUSD', wsname: 'XBT/USD', base: 'XXBT', quote: 'ZUSD', status: 'online' },
      XDGUSD: { altname: 'XDGUSD', wsname: 'XDG/USD', base: 'XXDG', quote: 'ZUSD', status: 'online' },
      XETHXXBT: { altname: 'ETHXBT', base: 'XETH', quote: 'XXBT', status: 'online' },
      'XXBTZUSD.d': { altname: 'XBTUSD.d', base: 'XXBT', quote: 'ZUSD' },
      LTCEUR: { altname: 'LTCEUR', wsname: 'LTC/EUR', base: 'XLTC', quote: 'ZEUR', status: 'cancel_only' },
    },
  };

  it('names bitcoin XBT / XXBT and dogecoin XDG / XXDG, and prefixes old assets with X and Z: all read as the common tickers', async () => {
    const ctx = stub({ '/0/public/AssetPairs': assetPairs });
    expect((await kraken.listPairs(ctx)).map((p) => [p.pair, p.base, p.quote, p.resultKey])).toEqual([
      ['XBTUSDT', 'BTC', 'USDT', 'XBTUSDT'],
      ['BCHEUR', 'BCH', 'EUR', 'BCHEUR'],
      ['XBTUSD', 'BTC', 'USD', 'XXBTZUSD'],
      ['XDGUSD', 'DOGE', 'USD', 'XDGUSD'],
      // no wsname: the asset codes themselves
      ['ETHXBT', 'ETH', 'BTC', 'XETHXXBT'],
    ]);
    // the dark-pool book and the cancel_only pair
    expect(ctx.tally.notTrading).toBe(2);
    expect(['XBT', 'XXBT', 'XDG', 'XXDG', 'XETH', 'ZUSD', 'ZEUR', 'XTZ', 'ZEC', 'ZETA'].map(normalizeAsset)).toEqual([
      'BTC',
      'BTC',
      'DOGE',
      'DOGE',
      'ETH',
      'USD',
      'EUR',
      'XTZ',
      'ZEC',
      'ZETA',
    ]);
  });

  it('reads c[0] and v[1] sent as strings, under the name the answer uses (XXBTZUSD for XBTUSD)', async () => {
    const xbtusdt = sample('ticker_pair-XBTUSDT_2025.json') as { result: { XBTUSDT: unknown } };
    const bcheur = sample('ticker_pair-BCHEUR_2017-10-03.json') as { result: { BCHEUR: unknown } };
    const ctx = stub({
      '/0/public/Ticker': { error: [], result: { XBTUSDT: xbtusdt.result.XBTUSDT, BCHEUR: bcheur.result.BCHEUR, XXBTZUSD: xbtusdt.result.XBTUSDT } },
    });
    const pairs: ListedPair[] = [
      { pair: 'XBTUSDT', base: 'BTC', quote: 'USDT', resultKey: 'XBTUSDT' },
      { pair: 'BCHEUR', base: 'BCH', quote: 'EUR', resultKey: 'BCHEUR' },
      { pair: 'XBTUSD', base: 'BTC', quote: 'USD', resultKey: 'XXBTZUSD' },
    ];
    expect(await kraken.fetchTickers(ctx, pairs)).toEqual([
      { pair: 'XBTUSDT', price: 105899.4, volume: 163.28908096 },
      { pair: 'BCHEUR', price: 355.4, volume: 4433.77288826 },
      { pair: 'XBTUSD', price: 105899.4, volume: 163.28908096 },
    ]);
    expect(ctx.asked).toEqual(['/0/public/Ticker?pair=XBTUSDT%2CBCHEUR%2CXBTUSD']);
  });

  it('a halted pair (c[0] "0.00000") is left out', async () => {
    const ctx = stub({ '/0/public/Ticker': { error: [], result: { XDGUSD: { c: ['0.00000', '0'], v: ['0', '0'] } } } });
    expect(await kraken.fetchTickers(ctx, [{ pair: 'XDGUSD', base: 'DOGE', quote: 'USD', resultKey: 'XDGUSD' }])).toEqual([]);
    expect(ctx.tally.notTrading).toBe(1);
  });

  it('errors in HTTP 200 are errors: transient ones retried, others not, warnings ignored', async () => {
    const unknown = kraken.inspect?.({ error: ['EQuery:Unknown asset pair'] }, '/0/public/Ticker');
    expect(unknown).toBeInstanceOf(UpstreamError);
    expect([unknown?.message, unknown?.kind, unknown?.retryable]).toEqual(['GET /0/public/Ticker: Kraken error EQuery:Unknown asset pair', 'api-error', false]);
    expect(kraken.inspect?.({ error: ['EService:Unavailable'] }, '/0/public/Ticker')?.retryable).toBe(true);
    expect(kraken.inspect?.({ error: ['EAPI:Rate limit exceeded'] }, '/0/public/Ticker')?.retryable).toBe(true);
    expect(kraken.inspect?.({ error: ['WGeneral:Deprecated'], result: {} }, '/0/public/Ticker')).toBeUndefined();
    expect(kraken.inspect?.(sample('ticker_pair-XBTUSDT_2025.json'), '/0/public/Ticker')).toBeUndefined();
    const ctx = stub({ '/0/public/Ticker': { error: ['EService:Unavailable'] } }, kraken.inspect);
    await expect(kraken.fetchTickers(ctx, [{ pair: 'XBTUSD', base: 'BTC', quote: 'USD' }])).rejects.toThrow('Kraken error EService:Unavailable');
  });
});

describe('mapping pairs to coins and currencies', () => {
  const coins = [
    { id: 'bitcoin', symbol: 'btc', market_cap_rank: 1 },
    { id: 'dogecoin', symbol: 'doge', market_cap_rank: 8 },
    // A real collision of the 2025 sample: the bridged token shares the symbol, with a worse rank.
    { id: 'binance-peg-dogecoin', symbol: 'doge', market_cap_rank: 124 },
    { id: 'tether', symbol: 'usdt', market_cap_rank: 3 },
    { id: 'unranked-btc', symbol: 'btc', market_cap_rank: null },
    { id: 'terra-luna', symbol: 'lunc', market_cap_rank: 150 },
    { id: 'terra-luna-2', symbol: 'luna', market_cap_rank: 140 },
    { id: 'euro-coin', symbol: 'eur', market_cap_rank: 200 },
  ];
  const stablecoinUsd = new Map([
    ['tether', 0.95],
    ['usd-coin', 1.0001],
  ]);
  const inputs = { coins, stablecoinUsd, currencies: ['usd', 'eur', 'btc'] };

  it('a symbol shared by several coins maps to the best-ranked one (case-insensitive)', () => {
    const mapping = createMapping('binance', inputs);
    expect(mapping.coinFor('DOGE')?.id).toBe('dogecoin');
    expect(mapping.coinFor('BTC')?.id).toBe('bitcoin');
    expect(mapping.coinFor('NOPE')).toBeUndefined();
  });

  it('the override file wins for known collisions: Kraken LUNA is Terra Classic', () => {
    expect(createMapping('kraken', inputs).coinFor('LUNA')?.id).toBe('terra-luna');
    expect(createMapping('binance', inputs).coinFor('LUNA')?.id).toBe('terra-luna-2');
    expect(createMapping('kraken', inputs).coinFor('LUNA2')?.id).toBe('terra-luna-2');
    // An override's target that is not among the coins we list maps nothing, never the coin the symbol names.
    expect(createMapping('kraken', { ...inputs, coins: coins.filter((c) => c.id !== 'terra-luna') }).coinFor('LUNA')).toBeUndefined();
  });

  it('USD/USDT/USDC serve usd, EUR eur, BTC btc; a stablecoin converts with its own stored usd price, never 1:1', () => {
    const mapping = createMapping('kraken', inputs);
    const pairs: ListedPair[] = [
      { pair: 'XBTUSD', base: 'BTC', quote: 'USD' },
      { pair: 'XBTUSDT', base: 'BTC', quote: 'USDT' },
      { pair: 'XBTUSDC', base: 'BTC', quote: 'USDC' },
      { pair: 'XBTEUR', base: 'BTC', quote: 'EUR' },
      { pair: 'XDGXBT', base: 'DOGE', quote: 'BTC' },
      { pair: 'XBTGBP', base: 'BTC', quote: 'GBP' },
      { pair: 'EURUSDT', base: 'EUR', quote: 'USDT' },
    ];
    const mapped = selectPairs(mapping, pairs, inputs.currencies);
    expect(mapped.map((m) => [m.listing.pair, m.coinId, m.currency, m.factor])).toEqual([
      // most-wanted first: the best-ranked coin, then the configured currencies' order, then the pair
      ['XBTUSD', 'bitcoin', 'usd', 1],
      ['XBTUSDC', 'bitcoin', 'usd', 1.0001],
      ['XBTUSDT', 'bitcoin', 'usd', 0.95],
      ['XBTEUR', 'bitcoin', 'eur', 1],
      ['XDGXBT', 'dogecoin', 'btc', 1],
    ]);
    expect(mapping.map(pairs[5] as ListedPair)).toEqual({ leftOut: 'quote asset GBP serves no currency' });
    // A fiat base is never a coin, whatever coin shares the letters.
    expect(mapping.map(pairs[6] as ListedPair)).toEqual({ leftOut: 'base asset EUR is none of the coins we list' });
    const time = new Date('2026-12-03T12:00:00Z');
    const rows = toRows('kraken', mapped, [{ pair: 'XBTUSDT', price: 100_000, volume: 2 }], time);
    // Tether off its peg at 0.95: 100,000 USDT is 95,000 usd.
    expect(rows).toEqual([
      { source: 'kraken', pair: 'XBTUSDT', time, coin_id: 'bitcoin', currency: 'usd', price: 95_000, quote_asset: 'USDT', quote_price: 100_000, volume: 2 },
    ]);
  });

  it('without a stored usd price of the stablecoin, or with its currency not configured, the pair is left out', () => {
    const mapping = createMapping('binance', { coins, stablecoinUsd: new Map(), currencies: ['eur'] });
    expect(mapping.map({ pair: 'BTCEUR', base: 'BTC', quote: 'EUR' })).toMatchObject({ coinId: 'bitcoin', currency: 'eur' });
    expect(mapping.map({ pair: 'BTCUSDT', base: 'BTC', quote: 'USDT' })).toEqual({ leftOut: 'usd is not a configured currency' });
    const usd = createMapping('binance', { coins, stablecoinUsd: new Map(), currencies: ['usd'] });
    expect(usd.map({ pair: 'BTCUSDT', base: 'BTC', quote: 'USDT' })).toEqual({ leftOut: 'no stored usd price of tether to convert USDT' });
  });
});
