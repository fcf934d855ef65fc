import { runScript } from '@cryptoagg/testkit';
import { describe, expect, it } from 'vitest';
import { fetcherConfigSchema } from '../src/config.js';
import { parseConfig } from '@cryptoagg/core';

describe('fetcher configuration', () => {
  it('applies the contract defaults', () => {
    const parsed = parseConfig(fetcherConfigSchema, {});
    expect(parsed.ok && parsed.config).toMatchObject({
      databaseUrl: undefined,
      redisUrl: undefined,
      coingeckoBaseUrl: 'https://api.coingecko.com/api/v3',
      coingeckoApiKey: undefined,
      currencies: ['usd', 'eur', 'btc'],
      maxCoins: 250,
      ratePerMinute: 30,
      logLevel: 'info',
    });
  });

  it("keeps raw snapshots 90 days and hourly rollups 730 by default; refuses a raw retention shorter than a run's window, or hourly shorter than raw", () => {
    const parsed = parseConfig(fetcherConfigSchema, {});
    expect(parsed.ok && [parsed.config.retentionRawDays, parsed.config.retentionHourlyDays]).toEqual([90, 730]);
    const short = parseConfig(fetcherConfigSchema, { RETENTION_RAW_DAYS: '61' });
    expect(short.ok ? [] : short.errors).toEqual(['invalid configuration: RETENTION_RAW_DAYS: must be a whole number between 62 and 36500']);
    const inverted = parseConfig(fetcherConfigSchema, { RETENTION_RAW_DAYS: '400', RETENTION_HOURLY_DAYS: '365' });
    expect(inverted.ok ? [] : inverted.errors).toEqual(['invalid configuration: RETENTION_HOURLY_DAYS: must not be less than RETENTION_RAW_DAYS']);
    const equal = parseConfig(fetcherConfigSchema, { RETENTION_RAW_DAYS: '62', RETENTION_HOURLY_DAYS: '62' });
    expect(equal.ok && [equal.config.retentionRawDays, equal.config.retentionHourlyDays]).toEqual([62, 62]);
  });

  it('normalises currencies and trailing slashes', () => {
    const parsed = parseConfig(fetcherConfigSchema, { FETCH_CURRENCIES: ' USD, eur ,usd', COINGECKO_BASE_URL: 'http://127.0.0.1:9/api/v3/' });
    expect(parsed.ok && parsed.config.currencies).toEqual(['usd', 'eur']);
    expect(parsed.ok && parsed.config.coingeckoBaseUrl).toBe('http://127.0.0.1:9/api/v3');
  });

  it('lists one line per invalid variable, never echoing a connection string', () => {
    const parsed = parseConfig(fetcherConfigSchema, {
      DATABASE_URL: 'mysql://root:hunter2@db/x',
      FETCH_MAX_COINS: 'many',
      FETCH_CURRENCIES: ' , ',
      COINGECKO_RATE_LIMIT_PER_MIN: '0',
    });
    expect(parsed.ok).toBe(false);
    const errors = parsed.ok ? [] : parsed.errors;
    expect(errors).toEqual([
      'invalid configuration: DATABASE_URL: must be a URL like postgres://user:pass@host:5432/db',
      'invalid configuration: COINGECKO_RATE_LIMIT_PER_MIN: must be a whole number between 1 and 10000',
      'invalid configuration: FETCH_CURRENCIES: must list at least one currency, e.g. usd,eur,btc',
      'invalid configuration: FETCH_MAX_COINS: must be a whole number between 1 and 10000',
    ]);
    expect(errors.join('\n')).not.toContain('hunter2');
  });

  it.each([
    ['COINGECKO_BASE_URL', 'not a url', 'must be a URL like https://api.coingecko.com/api/v3'],
    ['FETCH_MAX_COINS', '12abc', 'must be a whole number between 1 and 10000'],
    ['REDIS_URL', 'http://localhost:6379', 'must be a URL like redis://host:6379/0'],
    ['LOG_LEVEL', 'loud', 'Invalid option: expected one of'],
  ])('`npm run fetch` with %s=%s stops at start with exit 1 and one line naming it', async (name, value, message) => {
    const result = await runScript('jobs/fetcher/src/main.ts', { [name]: value, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`invalid configuration: ${name}: ${message}`);
    expect(result.stdout).toBe('');
  });
});
