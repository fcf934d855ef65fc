import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { coinDetailSchema, describeIssues, marketItemSchema } from '../src/upstream/schemas.js';
import { monthsSpanned, snapshotWindow, utcMonthStart } from '../src/window.js';

const NOW = '2026-12-03T12:00:00.000Z';

beforeEach(() => {
  vi.useFakeTimers({ now: new Date(NOW), toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const item = {
  id: 'x',
  symbol: 'x',
  name: 'X',
  image: 'https://example/x.png',
  current_price: 1.5,
  market_cap: 10,
  market_cap_rank: 3,
  total_volume: 7,
  last_updated: '2026-12-03T11:59:00.000Z',
};

/** Why the schema skips an item with `change` applied, or 'stored' when it keeps it. */
function verdict(change: Record<string, unknown>): string {
  const parsed = marketItemSchema.safeParse({ ...item, ...change });
  return parsed.success ? 'stored' : describeIssues(parsed.error);
}

describe('market items the database cannot hold are skipped, with the reason', () => {
  it.each([
    ['a NUL in the name', { name: 'Nul\u0000Coin' }, 'name: contains a NUL character'],
    ['a lone high surrogate in the name', { name: 'Coin \uD83D' }, 'name: contains an unpaired surrogate'],
    ['a lone low surrogate in the symbol', { symbol: '\uDE00x' }, 'symbol: contains an unpaired surrogate'],
    ['a NUL in the id', { id: 'bit\u0000coin' }, 'id: contains a NUL character'],
    ['a lone surrogate in the image', { image: 'https://x/\uD800.png' }, 'image: contains an unpaired surrogate'],
    ['a 3,000-character id', { id: 'a'.repeat(3_000) }, 'id: longer than 200 characters (3000)'],
    ['a 201-character id', { id: 'a'.repeat(201) }, 'id: longer than 200 characters (201)'],
    ['a 101-character symbol', { symbol: 's'.repeat(101) }, 'symbol: longer than 100 characters (101)'],
    ['a 501-character name', { name: 'n'.repeat(501) }, 'name: longer than 500 characters (501)'],
    ['a 2,049-character image URL', { image: `https://x/${'i'.repeat(2_039)}` }, 'image: longer than 2048 characters (2049)'],
    ['a rank of 3e9', { market_cap_rank: 3e9 }, 'market_cap_rank: 3000000000 is not an integer in 1..2147483647'],
    ['a rank of 2^31', { market_cap_rank: 2 ** 31 }, 'market_cap_rank: 2147483648 is not an integer in 1..2147483647'],
    ['a rank of 0', { market_cap_rank: 0 }, 'market_cap_rank: 0 is not an integer in 1..2147483647'],
    ['a negative rank', { market_cap_rank: -4 }, 'market_cap_rank: -4 is not an integer in 1..2147483647'],
    ['a fractional rank', { market_cap_rank: 1.5 }, 'market_cap_rank: 1.5 is not an integer in 1..2147483647'],
    ['a year-9999 last_updated', { last_updated: '9999-12-31T23:59:59Z' }, `last_updated: 9999-12-31T23:59:59Z is more than an hour after the fetch (${NOW})`],
    ['a year-2100 last_updated', { last_updated: '2100-01-01T00:00:00Z' }, `last_updated: 2100-01-01T00:00:00Z is more than an hour after the fetch (${NOW})`],
    [
      'a last_updated 61 minutes ahead',
      { last_updated: '2026-12-03T13:01:00Z' },
      `last_updated: 2026-12-03T13:01:00Z is more than an hour after the fetch (${NOW})`,
    ],
    ['a year-0000 last_updated', { last_updated: '0000-01-01T00:00:00Z' }, 'last_updated: 0000-01-01T00:00:00Z is before 2009-01-03T00:00:00.000Z'],
    ['a 1970 last_updated', { last_updated: '1970-01-01T00:00:00Z' }, 'last_updated: 1970-01-01T00:00:00Z is before 2009-01-03T00:00:00.000Z'],
    ['a February 30th', { last_updated: '2025-02-30T00:00:00Z' }, 'last_updated: not an ISO-8601 date-time with an offset'],
    ['a last_updated without an offset', { last_updated: '2025-02-09T17:44:04' }, 'last_updated: not an ISO-8601 date-time with an offset'],
    ['an expanded-year last_updated', { last_updated: '+275760-09-13T00:00:00Z' }, 'last_updated: not an ISO-8601 date-time with an offset'],
    ['a negative price', { current_price: -0.01 }, 'current_price: negative (-0.01)'],
    ['a negative market cap', { market_cap: -1 }, 'market_cap: negative (-1)'],
    ['a negative volume', { total_volume: -5e-324 }, 'total_volume: negative (-5e-324)'],
    ['an infinite price (JSON 1e999)', { current_price: JSON.parse('1e999') as number }, 'current_price: Invalid input: expected number, received Infinity'],
    ['an infinite market cap', { market_cap: -Infinity }, 'market_cap: Invalid input: expected number, received -Infinity'],
    ['a NaN high', { high_24h: NaN }, 'high_24h: Invalid input: expected number, received NaN'],
    ['an empty id', { id: '' }, 'id: Too small: expected string to have >=1 characters'],
    ['a numeric name', { name: 42 }, 'name: Invalid input: expected string, received number'],
    ['an array price', { current_price: [1] }, 'current_price: Invalid input: expected number, received array'],
  ])('%s', (_what, change, reason) => {
    expect(verdict(change)).toBe(reason);
  });

  it.each([
    ['a 200-character id', { id: 'a'.repeat(200) }],
    ['rank 2^31 - 1', { market_cap_rank: 2 ** 31 - 1 }],
    ['a last_updated exactly an hour ahead', { last_updated: '2026-12-03T13:00:00Z' }],
    ['a last_updated on Bitcoin genesis day', { last_updated: '2009-01-03T00:00:00Z' }],
    ['a zero price and the largest double as cap', { current_price: 0, market_cap: Number.MAX_VALUE }],
    ['emoji, CJK and right-to-left text', { name: 'Coin 😀 币 عملة', symbol: '😀' }],
    ['negative 24h changes (they are changes, not amounts)', { price_change_24h: -3, price_change_percentage_24h: -99.9 }],
  ])('keeps %s', (_what, change) => {
    expect(verdict(change)).toBe('stored');
  });
});

describe('metadata records the database cannot hold are skipped, with the reason', () => {
  const record = { id: 'x', description: { en: 'About X.' }, links: { homepage: ['https://x.example'] }, categories: ['Meme'], genesis_date: '2014-05-06' };
  const metaVerdict = (change: Record<string, unknown>) => {
    const parsed = coinDetailSchema.safeParse({ ...record, ...change });
    return parsed.success ? 'stored' : describeIssues(parsed.error);
  };

  it.each([
    ['a NUL in the description', { description: { en: 'About\u0000X' } }, 'description.en: contains a NUL character'],
    ['a lone surrogate in the description', { description: { en: 'About \uDBFF' } }, 'description.en: contains an unpaired surrogate'],
    ['a 100,001-character description', { description: { en: 'd'.repeat(100_001) } }, 'description.en: longer than 100000 characters (100001)'],
    ['a NUL in a homepage', { links: { homepage: ['', 'https://x\u0000'] } }, 'links.homepage.1: contains a NUL character'],
    ['a lone surrogate in a category', { categories: ['Meme', '\uD800'] }, 'categories.1: contains an unpaired surrogate'],
    ['a 201-character category', { categories: ['c'.repeat(201)] }, 'categories.0: longer than 200 characters (201)'],
    ['101 categories', { categories: Array.from({ length: 101 }, (_, i) => `c${i}`) }, 'categories: Too big: expected array to have <=100 items'],
    ['a genesis date that does not exist', { genesis_date: '2021-02-30' }, 'genesis_date: 2021-02-30 is not a calendar date'],
    ['a genesis date in year 0', { genesis_date: '0000-01-01' }, 'genesis_date: 0000-01-01 is not a calendar date'],
    ['a 3,000-character id', { id: 'x'.repeat(3_000) }, 'id: longer than 200 characters (3000)'],
  ])('%s', (_what, change, reason) => {
    expect(metaVerdict(change)).toBe(reason);
  });

  it('keeps a leap day and drops empty entries as before', () => {
    expect(metaVerdict({ genesis_date: '2024-02-29', categories: ['Meme', null, ''] })).toBe('stored');
  });
});

describe('the snapshot window', () => {
  it('reaches from the first of the month two months before the newest snapshot to the newest', () => {
    const newest = Date.parse('2026-03-31T23:30:00Z');
    expect(snapshotWindow(newest)).toEqual({ from: Date.parse('2026-01-01T00:00:00Z'), to: newest });
    expect(new Date(snapshotWindow(Date.parse('2026-01-15T00:00:00Z')).from).toISOString()).toBe('2025-11-01T00:00:00.000Z');
  });

  it('counts UTC months, whatever the process time zone', () => {
    const zone = process.env.TZ;
    // Berlin is already in April at 2026-03-31T23:30Z, and Node reads TZ again when it changes.
    process.env.TZ = 'Europe/Berlin';
    onTestFinished(() => {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    });
    expect(new Date('2026-03-31T23:30:00Z').getMonth()).toBe(3);
    expect(new Date(utcMonthStart(Date.parse('2026-03-31T23:30:00Z'))).toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(new Date(utcMonthStart(Date.parse('2026-10-25T01:30:00Z'), 1)).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(monthsSpanned(Date.parse('2025-12-31T23:59:59Z'), Date.parse('2026-01-01T00:00:00Z'))).toBe(2);
    expect(monthsSpanned(Date.parse('2026-01-01T00:00:00Z'), Date.parse('2026-01-31T23:59:59Z'))).toBe(1);
    expect(monthsSpanned(Date.parse('2026-01-01T00:00:00Z'), Date.parse('9999-12-01T00:00:00Z'))).toBe(95_688);
  });
});
