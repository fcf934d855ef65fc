import { afterEach, describe, expect, it } from 'vitest';
import { startFakeCoinGecko } from '../src/index.js';
import type { FakeCoinGecko, MarketItem } from '../src/index.js';

const open: FakeCoinGecko[] = [];
async function start(options?: Parameters<typeof startFakeCoinGecko>[0]): Promise<FakeCoinGecko> {
  const fake = await startFakeCoinGecko(options);
  open.push(fake);
  return fake;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((f) => f.close()));
});

const MARKETS = '/coins/markets?order=market_cap_desc&sparkline=false&price_change_percentage=24h';
const CONTRACT_FLAGS = 'localization=false&tickers=false&market_data=false&community_data=false&developer_data=false&sparkline=false';

async function getJson<T>(fake: FakeCoinGecko, path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(fake.url + path, init);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

async function allPages(fake: FakeCoinGecko, currency: string, perPage = 100): Promise<MarketItem[]> {
  const items: MarketItem[] = [];
  for (let page = 1; ; page++) {
    const batch = await getJson<MarketItem[]>(fake, `${MARKETS}&vs_currency=${currency}&per_page=${perPage}&page=${page}`);
    if (batch.length === 0) return items;
    items.push(...batch);
  }
}

const byId = (items: MarketItem[], id: string): MarketItem => {
  const item = items.find((i) => i.id === id);
  if (!item) throw new Error(`no ${id}`);
  return item;
};

describe('fake CoinGecko /coins/markets', () => {
  it('paginates 250 coins as 100/100/50 and then []', async () => {
    const fake = await start();
    const sizes: number[] = [];
    for (const page of [1, 2, 3, 4]) {
      sizes.push((await getJson<MarketItem[]>(fake, `${MARKETS}&vs_currency=usd&per_page=100&page=${page}`)).length);
    }
    expect(sizes).toEqual([100, 100, 50, 0]);
    expect((await getJson<MarketItem[]>(fake, `${MARKETS}&vs_currency=usd`)).length).toBe(100);
    expect((await getJson<MarketItem[]>(fake, `${MARKETS}&vs_currency=usd&per_page=1000`)).length).toBe(250);
    expect((await allPages(fake, 'usd', 100)).map((i) => i.id)).toEqual(fake.coinIds());
  });

  it('writes tiny numbers Ruby-style in the raw usd round-0 body', async () => {
    const fake = await start();
    const text = await (await fetch(`${fake.url}${MARKETS}&vs_currency=usd&per_page=250&page=1`)).text();
    const tiny = /\{"id":"tiny-price-token"[^}]*\}/.exec(text)?.[0] ?? '';
    expect(tiny).toContain('"current_price":1.234e-05');
    expect(tiny).toContain('"price_change_24h":-6.0e-05');
    expect(text).toContain('"circulating_supply":19822040.0');
    expect(byId(JSON.parse(text) as MarketItem[], 'tiny-price-token').current_price).toBe(0.00001234);
  });

  it('markets() equals what is served, in upstream key order', async () => {
    const fake = await start();
    fake.setRound(3);
    for (const currency of ['usd', 'eur', 'btc']) {
      expect(await allPages(fake, currency, 250)).toEqual(fake.markets(currency));
    }
    const [first] = await getJson<MarketItem[]>(fake, `${MARKETS}&vs_currency=usd&per_page=1`);
    expect(Object.keys(first ?? {})).toEqual([
      'id',
      'symbol',
      'name',
      'image',
      'current_price',
      'market_cap',
      'market_cap_rank',
      'fully_diluted_valuation',
      'total_volume',
      'high_24h',
      'low_24h',
      'price_change_24h',
      'price_change_percentage_24h',
      'market_cap_change_24h',
      'market_cap_change_percentage_24h',
      'circulating_supply',
      'total_supply',
      'max_supply',
      'ath',
      'ath_change_percentage',
      'ath_date',
      'atl',
      'atl_change_percentage',
      'atl_date',
      'roi',
      'last_updated',
      'price_change_percentage_24h_in_currency',
    ]);
    const [plain] = await getJson<MarketItem[]>(fake, '/coins/markets?vs_currency=usd&per_page=1');
    expect(plain).not.toHaveProperty('price_change_percentage_24h_in_currency');
  });

  it('converts currencies from usd', async () => {
    const fake = await start();
    const usd = byId(fake.markets('usd'), 'ethereum');
    expect(byId(fake.markets('eur'), 'ethereum').current_price).toBeCloseTo(usd.current_price * 0.92, 9);
    expect(byId(fake.markets('btc'), 'bitcoin').current_price).toBe(1);
    const res = await fetch(`${fake.url}${MARKETS}&vs_currency=xyz`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid vs_currency' });
  });

  it('moves prices and last_updated per round, except the stale coin', async () => {
    const fake = await start();
    const before = await allPages(fake, 'usd');
    const control = await fetch(fake.url.replace('/api/v3', '/__fake/round'), { method: 'POST', body: JSON.stringify({ round: 1 }) });
    expect(control.status).toBe(200);
    expect(fake.round).toBe(1);
    const after = await allPages(fake, 'usd');
    const [b0, b1] = [byId(before, 'bitcoin'), byId(after, 'bitcoin')];
    expect(b1.current_price).toBeCloseTo(b0.current_price * 1.01, 6);
    expect(Date.parse(b1.last_updated) - Date.parse(b0.last_updated)).toBe(5 * 60_000);
    expect(b1.last_updated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(byId(after, 'resolv-wstusr')).toEqual(byId(before, 'resolv-wstusr'));
    expect(byId(after, 'resolv-wstusr')).toMatchObject({ high_24h: null, price_change_percentage_24h_in_currency: null });
    expect(fake.requests.every((r) => !r.path.startsWith('/__fake'))).toBe(true);
  });

  it('carries the documented traps', async () => {
    const fake = await start();
    const items = fake.markets('usd');
    expect(byId(items, 'ousg').market_cap_rank).toBeNull();
    const ranks = items.slice(9, 11).map((i) => [i.id, i.market_cap_rank]);
    expect(ranks).toEqual([
      ['cardano', 11],
      ['tron', 10],
    ]);
    expect(byId(items, '1move token')).toMatchObject({ symbol: '1mt', name: '1Move Token' });
    expect(items.filter((i) => i.roi === null).length).toBeGreaterThan(200);
    expect(items.some((i) => i.max_supply === null)).toBe(true);
  });

  it('adds malformed items to page 1 only when asked', async () => {
    const fake = await start();
    const url = `${MARKETS}&vs_currency=eur&per_page=100&page=`;
    const clean = await getJson<unknown[]>(fake, `${url}1`);
    expect(clean).toHaveLength(100);
    fake.setFaults({ malformedItems: true });
    const dirty = await getJson<Record<string, unknown>[]>(fake, `${url}1`);
    expect(dirty).toHaveLength(104);
    expect(dirty.filter((i) => !('id' in i))).toHaveLength(1);
    expect(dirty.some((i) => i.current_price === 'abc')).toBe(true);
    expect(dirty.some((i) => i.last_updated === 'not-a-date')).toBe(true);
    expect(dirty.some((i) => typeof i.market_cap === 'object' && i.market_cap !== null)).toBe(true);
    expect(await getJson<unknown[]>(fake, `${url}2`)).toHaveLength(100);
    expect(fake.markets('eur')).toHaveLength(250);
  });

  it('synthesizes coins beyond the sample', async () => {
    const fake = await start({ coins: 300 });
    const items = await allPages(fake, 'usd');
    expect(items).toHaveLength(300);
    expect(items.slice(250).map((i) => i.id)).toEqual(Array.from({ length: 50 }, (_, i) => `synthetic-coin-${251 + i}`));
    expect(items.slice(250).every((i) => i.current_price > 0 && i.market_cap > 0)).toBe(true);
    expect(items).toEqual(fake.markets('usd'));
  });
});

describe('fake CoinGecko faults and auth', () => {
  it('rate-limits with Retry-After, then answers 200', async () => {
    const fake = await start();
    fake.setFaults({ rateLimit: { count: 2, retryAfterSeconds: 7 } });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${fake.url}/ping`);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('7');
      expect(await res.json()).toMatchObject({ status: { error_code: 429 } });
    }
    expect((await fetch(`${fake.url}/ping`)).status).toBe(200);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('rate-limits with a Cloudflare HTML page', async () => {
    const fake = await start();
    fake.setFaults({ rateLimit: { count: 1, html: true, retryAfterSeconds: 3 } });
    const res = await fetch(`${fake.url}/ping`);
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(await res.text()).toContain('Error</span> <span class="cf-code-label">1015');
  });

  it('answers server errors always or for a count, scoped by pathPrefix', async () => {
    const fake = await start();
    fake.setFaults({ serverError: { count: 'always' }, pathPrefix: '/coins/markets' });
    for (let i = 0; i < 3; i++) expect((await fetch(`${fake.url}${MARKETS}&vs_currency=usd`)).status).toBe(503);
    expect((await fetch(`${fake.url}/ping`)).status).toBe(200);
    fake.setFaults({ serverError: { count: 1, status: 502 } });
    expect((await fetch(`${fake.url}/ping`)).status).toBe(502);
    expect((await fetch(`${fake.url}/ping`)).status).toBe(200);
  });

  it('delays, hangs until reset, and records requests', async () => {
    const fake = await start();
    fake.setFaults({ delayMs: 150 });
    const t0 = Date.now();
    await getJson(fake, '/ping?x=1', { headers: { 'x-test': 'yes' } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(fake.requests[0]).toMatchObject({ method: 'GET', path: '/ping', query: { x: '1' }, status: 200 });
    expect(fake.requests[0]?.headers['x-test']).toBe('yes');
    fake.setFaults({ hang: true });
    await expect(fetch(`${fake.url}/ping`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    const pending = fetch(`${fake.url}/ping`).then(
      (r) => r.status,
      () => 'ended',
    );
    await new Promise((r) => setTimeout(r, 50));
    fake.reset();
    expect(await pending).toBe('ended');
    expect(fake.requests).toHaveLength(0);
    expect((await fetch(`${fake.url}/ping`)).status).toBe(200);
  });

  it('ends hanging requests on close', async () => {
    const fake = await startFakeCoinGecko();
    fake.setFaults({ hang: true });
    const pending = fetch(`${fake.url}/ping`).then(
      (r) => r.status,
      () => 'ended',
    );
    await new Promise((r) => setTimeout(r, 50));
    await fake.close();
    expect(await pending).toBe('ended');
    expect(fake.requests[0]?.status).toBe(0);
  });

  it('accepts faults over HTTP and lists requests', async () => {
    const fake = await start();
    const root = fake.url.replace('/api/v3', '');
    const bad = await fetch(`${root}/__fake/faults`, { method: 'POST', body: JSON.stringify({ rateLimit: { count: 'x' } }) });
    expect(bad.status).toBe(400);
    await fetch(`${root}/__fake/faults`, { method: 'POST', body: JSON.stringify({ rateLimit: { count: 1 } }) });
    expect((await fetch(`${fake.url}/ping`)).status).toBe(429);
    const listed = (await (await fetch(`${root}/__fake/requests`)).json()) as { status: number }[];
    expect(listed.map((r) => r.status)).toEqual([429]);
    await fetch(`${root}/__fake/reset`, { method: 'POST' });
    expect(fake.requests).toHaveLength(0);
  });

  it('requires the API key when configured', async () => {
    const fake = await start({ apiKey: 'CG-test' });
    const missing = await fetch(`${fake.url}/ping`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ status: { error_code: 10002, error_message: 'API Key Missing' } });
    expect((await fetch(`${fake.url}/ping`, { headers: { 'x-cg-demo-api-key': 'wrong' } })).status).toBe(401);
    expect((await fetch(`${fake.url}/ping`, { headers: { 'x-cg-demo-api-key': 'CG-test' } })).status).toBe(200);
    expect((await fetch(`${fake.url}/ping`, { headers: { 'x-cg-pro-api-key': 'CG-test' } })).status).toBe(200);
  });
});

describe('fake CoinGecko /coins/{id}', () => {
  it('serves details, including ids with spaces', async () => {
    const fake = await start();
    const spaced = await getJson<{ id: string; web_slug: string }>(fake, `/coins/1move%20token?${CONTRACT_FLAGS}`);
    expect(spaced).toMatchObject({ id: '1move token', web_slug: '1move-token' });
    const btc = await getJson<Record<string, unknown>>(fake, `/coins/bitcoin?${CONTRACT_FLAGS}`);
    expect(btc).toMatchObject({ genesis_date: '2009-01-03', links: { homepage: ['http://www.bitcoin.org', '', ''] }, market_cap_rank: 1 });
    expect(btc).toEqual(fake.coinDetail('bitcoin'));
    expect(fake.coinDetail('dogecoin')?.categories).toContain(null);
    expect(fake.coinDetail('nope')).toBeUndefined();
    const missing = await fetch(`${fake.url}/coins/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'coin not found' });
    const other = await fetch(`${fake.url}/global`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: 'Not found' });
  });

  it('serves hourly market charts ending at last_updated', async () => {
    const fake = await start();
    fake.setRound(2);
    const chart = await getJson<{ prices: [number, number][]; market_caps: unknown[]; total_volumes: unknown[] }>(
      fake,
      '/coins/ethereum/market_chart?vs_currency=usd&days=2',
    );
    const eth = byId(fake.markets('usd'), 'ethereum');
    expect(chart.prices.length).toBeGreaterThanOrEqual(48);
    expect(chart.prices.at(-1)).toEqual([Date.parse(eth.last_updated), eth.current_price]);
    expect(chart.market_caps).toHaveLength(chart.prices.length);
    expect(chart.total_volumes).toHaveLength(chart.prices.length);
    expect((chart.prices[1]?.[0] ?? 0) - (chart.prices[0]?.[0] ?? 0)).toBe(3_600_000);
  });

  it("follows CoinGecko's granularity: 5-minute points for 1 day, hourly up to 90 days, daily at 00:00 UTC beyond", async () => {
    const fake = await start();
    const end = Date.parse(byId(fake.markets('usd'), 'bitcoin').last_updated);
    const times = async (days: number) =>
      (await getJson<{ prices: [number, number][] }>(fake, `/coins/bitcoin/market_chart?vs_currency=usd&days=${days}`)).prices.map(([time]) => time);
    const steps = (series: number[]) => [...new Set(series.slice(1, -1).map((time, i) => time - series[i]!))];
    const oneDay = await times(1);
    expect(steps(oneDay)).toEqual([300_000]);
    expect(oneDay).toHaveLength(24 * 12 + 1);
    expect(oneDay.at(-1)).toBe(end);
    const ninety = await times(90);
    expect(steps(ninety)).toEqual([3_600_000]);
    expect(ninety).toHaveLength(90 * 24 + 1);
    const year = await times(365);
    expect(steps(year)).toEqual([86_400_000]);
    expect(year).toHaveLength(365 + 1);
    expect(year.slice(0, -1).every((time) => time % 86_400_000 === 0)).toBe(true);
  });
});
