import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeCoinGecko, startFakeExchanges, type FakeExchanges } from '../src/index.js';

let ex: FakeExchanges;
beforeAll(async () => {
  ex = await startFakeExchanges();
});
afterAll(() => ex.close());
beforeEach(() => ex.reset());

const get = async (url: string) => {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: (): unknown => JSON.parse(text) };
};

describe('fake Binance', () => {
  it('lists symbols with their status and serves every ticker with numbers as 8-decimal strings, halted ones at zero', async () => {
    const info = (await get(`${ex.binance.url}/api/v3/exchangeInfo`)).json() as { symbols: { symbol: string; status: string; baseAsset: string }[] };
    expect(info.symbols.find((s) => s.symbol === 'BTCUSDT')).toMatchObject({ status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDT' });
    expect(info.symbols.find((s) => s.symbol === 'BCCBTC')?.status).toBe('BREAK');
    const tickers = (await get(`${ex.binance.url}/api/v3/ticker/24hr`)).json() as { symbol: string; lastPrice: string; volume: string; count: number }[];
    const btc = tickers.find((t) => t.symbol === 'BTCUSDT');
    expect(btc?.lastPrice).toMatch(/^\d+\.\d{8}$/);
    expect(Number(btc?.lastPrice)).toBe(ex.binance.tickers().get('BTCUSDT')?.price);
    expect(tickers.find((t) => t.symbol === 'BCCBTC')).toMatchObject({ lastPrice: '0.00000000', count: 0 });
    expect(ex.binance.tickers().has('BCCBTC')).toBe(false);
  });

  it('pins a price, halts or corrupts a pair, and moves with the rounds (x1.01 a round)', async () => {
    const round0 = ex.binance.tickers().get('ETHEUR')?.price ?? NaN;
    ex.binance.setTicker('BTCUSDT', { price: 96_000, volume: 12.5 });
    ex.binance.setFaults({ halted: ['SOLUSDT'], malformed: ['XRPUSDT'] });
    ex.setRound(1);
    const tickers = (await get(`${ex.binance.url}/api/v3/ticker/24hr`)).json() as { symbol: string; lastPrice: string; volume: string }[];
    const of = (symbol: string) => tickers.find((t) => t.symbol === symbol);
    expect([of('BTCUSDT')?.lastPrice, of('BTCUSDT')?.volume]).toEqual(['96000.00000000', '12.50000000']);
    expect(of('SOLUSDT')?.lastPrice).toBe('0.00000000');
    expect(of('XRPUSDT')?.lastPrice).toBe('abc');
    expect((ex.binance.tickers().get('ETHEUR')?.price ?? NaN) / round0).toBeCloseTo(1.01, 6);
  });
});

describe('fake Coinbase Exchange', () => {
  it('lists products (one delisted, one with trading disabled) and answers a ticker per product, any case', async () => {
    const products = (await get(`${ex.coinbase.url}/products`)).json() as { id: string; status: string; trading_disabled: boolean }[];
    expect(products.find((p) => p.id === 'XLM-EUR')).toMatchObject({ status: 'delisted' });
    expect(products.find((p) => p.id === 'ADA-EUR')).toMatchObject({ status: 'online', trading_disabled: true });
    const ticker = (await get(`${ex.coinbase.url}/products/btc-usd/ticker`)).json() as { price: string; volume: string; time: string };
    expect(Number(ticker.price)).toBe(ex.coinbase.tickers().get('BTC-USD')?.price);
    expect(ticker.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect((await get(`${ex.coinbase.url}/products/NOPE-USD/ticker`)).status).toBe(404);
  });
});

describe('fake Kraken', () => {
  it("keys tickers by the pair's AssetPairs key whatever name it was asked by, with legacy asset codes", async () => {
    const pairs = (await get(`${ex.kraken.url}/0/public/AssetPairs`)).json() as { error: string[]; result: Record<string, { altname: string; base: string }> };
    expect(pairs.result.XXBTZUSD).toMatchObject({ altname: 'XBTUSD', wsname: 'XBT/USD', base: 'XXBT', quote: 'ZUSD', status: 'online' });
    expect(pairs.result.XDGUSD).toMatchObject({ base: 'XXDG' });
    expect(pairs.result.BCHEUR).toMatchObject({ status: 'cancel_only' });
    const answer = (await get(`${ex.kraken.url}/0/public/Ticker?pair=XBTUSD,XDGUSD`)).json() as { error: string[]; result: Record<string, { c: string[] }> };
    expect(answer.error).toEqual([]);
    expect(Object.keys(answer.result)).toEqual(['XXBTZUSD', 'XDGUSD']);
    expect(Number(answer.result.XXBTZUSD?.c[0])).toBe(ex.kraken.tickers().get('XBTUSD')?.price);
  });

  it('answers errors in HTTP 200: an unknown pair, or the errors the fault sets', async () => {
    const unknown = await get(`${ex.kraken.url}/0/public/Ticker?pair=NOPEUSD`);
    expect([unknown.status, unknown.json()]).toEqual([200, { error: ['EQuery:Unknown asset pair'] }]);
    ex.kraken.setFaults({ errors: ['EService:Unavailable'] });
    const busy = await get(`${ex.kraken.url}/0/public/AssetPairs`);
    expect([busy.status, busy.json()]).toEqual([200, { error: ['EService:Unavailable'] }]);
  });
});

describe('the fake exchanges share the fake CoinGecko fault modes', () => {
  it('429 with Retry-After, 5xx, a body cut off mid-way, and hanging until reset', async () => {
    ex.binance.setFaults({ rateLimit: { count: 1, retryAfterSeconds: 7 } });
    const limited = await get(`${ex.binance.url}/api/v3/exchangeInfo`);
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '7']);
    expect((await get(`${ex.binance.url}/api/v3/exchangeInfo`)).status).toBe(200);

    ex.coinbase.setFaults({ serverError: { count: 'always', status: 502 }, pathPrefix: '/products/BTC' });
    expect((await get(`${ex.coinbase.url}/products/BTC-USD/ticker`)).status).toBe(502);
    expect((await get(`${ex.coinbase.url}/products`)).status).toBe(200);

    ex.kraken.setFaults({ garbage: true });
    const cut = await get(`${ex.kraken.url}/0/public/AssetPairs`);
    expect(cut.status).toBe(200);
    expect(() => cut.json()).toThrow();

    ex.binance.setFaults({ hang: true });
    const hanging = fetch(`${ex.binance.url}/api/v3/ping`).then(
      () => 'answered',
      () => 'ended',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ex.binance.requests.at(-1)).toMatchObject({ path: '/api/v3/ping', status: 0 });
    ex.binance.reset();
    expect(await hanging).toBe('ended');
  });

  it('are controlled over HTTP too, and refuse an unknown fault', async () => {
    const set = await fetch(`${ex.kraken.url}/__fake/faults`, { method: 'POST', body: JSON.stringify({ halted: ['XBTUSD'] }) });
    expect(set.status).toBe(200);
    expect(ex.kraken.tickers().has('XBTUSD')).toBe(false);
    const bad = await fetch(`${ex.kraken.url}/__fake/faults`, { method: 'POST', body: JSON.stringify({ explode: true }) });
    expect(bad.status).toBe(400);
    await fetch(`${ex.kraken.url}/__fake/round`, { method: 'POST', body: JSON.stringify({ round: 3 }) });
    expect(ex.kraken.round).toBe(3);
  });

  it('the fake CoinGecko tells where its exchanges are, for npm start', async () => {
    const cg = await startFakeCoinGecko({ coins: 5, exchanges: ex.env });
    try {
      expect((await get(`${cg.url}/__fake/exchanges`)).json()).toEqual(ex.env);
      expect(ex.env.KRAKEN_BASE_URL).toBe(ex.kraken.url);
    } finally {
      await cg.close();
    }
  });
});
