import { startFakeCoinGecko } from '@cryptoagg/fake-upstream';
import { freePort } from '@cryptoagg/testkit';
import { describe, expect, it } from 'vitest';
import { fakeExchangeUrls } from '../src/fake-exchanges.js';

describe('npm start pointed at the fake upstream', () => {
  const exchanges = { BINANCE_BASE_URL: 'http://127.0.0.1:8090', COINBASE_BASE_URL: 'http://127.0.0.1:8091', KRAKEN_BASE_URL: 'http://127.0.0.1:8092' };

  it('reads the fake exchanges the fake runs, for every exchange base URL not set', async () => {
    const cg = await startFakeCoinGecko({ coins: 5, exchanges });
    try {
      expect(await fakeExchangeUrls({ COINGECKO_BASE_URL: cg.url })).toEqual(exchanges);
      expect(await fakeExchangeUrls({ COINGECKO_BASE_URL: `${cg.url}/`, KRAKEN_BASE_URL: 'https://api.kraken.com' })).toEqual({
        BINANCE_BASE_URL: exchanges.BINANCE_BASE_URL,
        COINBASE_BASE_URL: exchanges.COINBASE_BASE_URL,
      });
    } finally {
      await cg.close();
    }
  });

  it('changes nothing without the fake, or with a fake that runs no exchanges', async () => {
    expect(await fakeExchangeUrls({})).toEqual({});
    expect(await fakeExchangeUrls({ COINGECKO_BASE_URL: `http://127.0.0.1:${await freePort()}/api/v3` })).toEqual({});
    const cg = await startFakeCoinGecko({ coins: 5 });
    try {
      expect(await fakeExchangeUrls({ COINGECKO_BASE_URL: cg.url })).toEqual({});
    } finally {
      await cg.close();
    }
  });
});
