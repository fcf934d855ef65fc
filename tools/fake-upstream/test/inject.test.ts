import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawJson, startFakeCoinGecko, type FakeCoinGecko, type MarketItem } from '../src/index.js';

const MARKETS = '/coins/markets?order=market_cap_desc&sparkline=false&price_change_percentage=24h&vs_currency=usd';
const DETAIL = '?localization=false&tickers=false&market_data=false&community_data=false&developer_data=false&sparkline=false';

let fake: FakeCoinGecko;
beforeAll(async () => {
  fake = await startFakeCoinGecko({ coins: 5 });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const text = async (path: string) => (await fetch(fake.url + path)).text();

describe('injected markets items and metadata records', () => {
  it('serves the edited list, paged, with values JSON.stringify cannot write', async () => {
    const original = fake.markets('usd');
    fake.editMarkets((items, currency) => [
      { ...items[0], name: `Nul\u0000${currency}`, symbol: 'lone\uD800' },
      { ...items[1], current_price: rawJson('1e999') },
      'not an object',
      ...items.slice(2),
    ]);
    const page1 = await text(`${MARKETS}&per_page=2&page=1`);
    expect(page1).toContain('"symbol":"lone\\ud800","name":"Nul\\u0000usd"');
    expect(page1).toContain('"current_price":1e999');
    const [first, second] = JSON.parse(page1) as MarketItem[];
    expect([first?.id, first?.name, first?.symbol]).toEqual([original[0]?.id, 'Nul\u0000usd', 'lone\uD800']);
    expect(second?.current_price).toBe(Infinity);
    const page2 = JSON.parse(await text(`${MARKETS}&per_page=2&page=2`)) as unknown[];
    expect(page2).toEqual(['not an object', original[2]]);
    // markets() keeps describing the data set.
    expect(fake.markets('usd')).toEqual(original);

    fake.editMarkets(null);
    expect(JSON.parse(await text(`${MARKETS}&per_page=250`))).toEqual(original);
  });

  it('applies the item faults to the edited list', async () => {
    fake.editMarkets((items) => items.slice(1));
    fake.setFaults({ malformedAt: [1] });
    const served = JSON.parse(await text(`${MARKETS}&per_page=250`)) as MarketItem[];
    expect(served.map((i) => i.id)).toEqual(fake.coinIds().slice(1));
    expect(served[0]?.current_price).toBe('abc');
  });

  it('serves a replaced /coins/{id} record, for unknown ids too, until restored or reset', async () => {
    const bitcoin = fake.coinDetail('bitcoin');
    fake.setCoinDetail('bitcoin', { id: 'bitcoin', description: { en: 'bad\u0000' } });
    fake.setCoinDetail('new coin', { id: 'new coin' });
    expect(await text(`/coins/bitcoin${DETAIL}`)).toBe('{"id":"bitcoin","description":{"en":"bad\\u0000"}}');
    expect(await text(`/coins/new%20coin${DETAIL}`)).toBe('{"id":"new coin"}');
    // market_chart still comes from the data set
    expect((await fetch(`${fake.url}/coins/bitcoin/market_chart?vs_currency=usd&days=1`)).status).toBe(200);

    fake.setCoinDetail('bitcoin', undefined);
    expect(JSON.parse(await text(`/coins/bitcoin${DETAIL}`))).toEqual(bitcoin);
    fake.reset();
    expect(await text(`/coins/new%20coin${DETAIL}`)).toBe('{"error":"coin not found"}');
  });
});
