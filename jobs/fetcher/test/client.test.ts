import { describe, expect, it } from 'vitest';
import { apiKeyHeader, parseRetryAfter } from '../src/upstream/client.js';
import { coinDetailSchema, marketItemSchema } from '../src/upstream/schemas.js';

describe('upstream client', () => {
  it('sends the pro header only to the pro host', () => {
    expect(apiKeyHeader('https://api.coingecko.com/api/v3')).toBe('x-cg-demo-api-key');
    expect(apiKeyHeader('https://pro-api.coingecko.com/api/v3')).toBe('x-cg-pro-api-key');
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7_000);
    expect(parseRetryAfter('Thu, 26 Nov 2026 10:00:30 GMT', Date.parse('2026-11-26T10:00:00Z'))).toBe(30_000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('item validation', () => {
  const item = {
    id: 'x',
    symbol: 'x',
    name: 'X',
    image: 'https://example/x.png',
    current_price: 1.5,
    market_cap: 10,
    market_cap_rank: 3,
    total_volume: null,
    last_updated: '2025-02-09T17:44:04.143Z',
  };

  it('keeps nulls, turns missing optional numbers into null', () => {
    expect(marketItemSchema.parse(item)).toEqual({
      ...item,
      high_24h: null,
      low_24h: null,
      price_change_24h: null,
      price_change_percentage_24h: null,
      circulating_supply: null,
    });
  });

  it.each([
    ['a non-numeric price', { current_price: 'abc' }],
    ['a missing price', { current_price: undefined }],
    ['a null price', { current_price: null }],
    ['an object where a number belongs', { market_cap: {} }],
    ['a missing id', { id: undefined }],
    ['an unparseable last_updated', { last_updated: 'not-a-date' }],
    ['a fractional rank', { market_cap_rank: 1.5 }],
  ])('rejects %s', (_what, change) => {
    expect(marketItemSchema.safeParse({ ...item, ...change }).success).toBe(false);
  });

  it('reduces /coins/{id} to the metadata we keep', () => {
    expect(
      coinDetailSchema.parse({
        id: 'x',
        description: { en: '  About X.  ' },
        links: { homepage: ['', 'https://x.example', ''] },
        categories: ['Layer 1 (L1)', null, 'Layer 1 (L1)', ''],
        genesis_date: null,
      }),
    ).toEqual({ id: 'x', description: 'About X.', homepage: 'https://x.example', categories: ['Layer 1 (L1)'], genesisDate: null });
  });
});
