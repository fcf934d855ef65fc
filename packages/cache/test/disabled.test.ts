import { createLogger } from '@cryptoagg/core';
import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { createCache } from '../src/index.js';

it('with caching turned off every lookup loads, still JSON-shaped, and counts as a miss', async () => {
  const registry = new Registry();
  const cache = createCache({ keyPrefix: 'off:', ttlSeconds: 60, enabled: false, logger: createLogger('cache-off', 'silent'), registry });
  let loads = 0;
  const load = () => Promise.resolve({ n: ++loads, at: new Date('2026-01-01T00:00:00Z') });
  expect(await cache.get('k', load)).toEqual({ n: 1, at: '2026-01-01T00:00:00.000Z' });
  expect(await cache.get('k', load)).toEqual({ n: 2, at: '2026-01-01T00:00:00.000Z' });
  expect(
    await cache.getMany(
      ['a', 'b'],
      (id) => id,
      (missing) => Promise.resolve(new Map(missing.map((k) => [k, k]))),
    ),
  ).toEqual(['a', 'b']);
  expect(await registry.metrics()).toContain('cryptoagg_cache_requests_total{result="miss"} 4');
  expect(await registry.metrics()).toContain('cryptoagg_cache_requests_total{result="hit"} 0');
  await cache.close();
});
