import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  CACHE_MEMORY_BYTES,
  CACHE_REQUESTS,
  counter,
  DATA_LAST_FETCH,
  DB_QUERY_DURATION,
  gauge,
  histogram,
  METRIC_FAMILIES,
  summedGauge,
  timestampSeconds,
} from '../src/index.js';

const lines = async (registry: Registry, name: string) => (await registry.metrics()).split('\n').filter((line) => line.includes(name));
/** The value a registry exports for an unlabelled metric. */
const value = async (registry: Registry, name: string) =>
  (await registry.metrics())
    .split('\n')
    .find((line) => line.startsWith(`${name} `))
    ?.slice(name.length + 1);

describe('one family, one instance per registry', () => {
  it('gives every caller of a registry the same counter, registered once and exported at zero from the start', async () => {
    const registry = new Registry();
    const first = counter(registry, CACHE_REQUESTS);
    const second = counter(registry, CACHE_REQUESTS);
    expect(second).toBe(first);
    second.inc({ result: 'hit' });
    expect(await lines(registry, CACHE_REQUESTS.name)).toEqual([
      `# HELP ${CACHE_REQUESTS.name} ${CACHE_REQUESTS.help}`,
      `# TYPE ${CACHE_REQUESTS.name} counter`,
      `${CACHE_REQUESTS.name}{result="hit"} 1`,
      `${CACHE_REQUESTS.name}{result="miss"} 0`,
      `${CACHE_REQUESTS.name}{result="error"} 0`,
    ]);
    // Another registry (another service in the same process) has its own.
    expect(counter(new Registry(), CACHE_REQUESTS)).not.toBe(first);
  });

  it('gives a histogram the buckets of its definition', async () => {
    const registry = new Registry();
    histogram(registry, DB_QUERY_DURATION).observe({ outcome: 'ok' }, 0.003);
    expect(histogram(registry, DB_QUERY_DURATION)).toBe(histogram(registry, DB_QUERY_DURATION));
    const buckets = (await lines(registry, '_bucket')).map((line) => /le="([^"]+)"/.exec(line)?.[1]);
    expect(buckets).toEqual(['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf']);
  });

  it('refuses a name already registered as another kind, and a second source for a collected gauge', () => {
    const registry = new Registry();
    gauge(registry, DATA_LAST_FETCH, (g) => g.set(1));
    expect(() => histogram(registry, { ...DB_QUERY_DURATION, name: DATA_LAST_FETCH.name })).toThrow(
      'cryptoagg_data_last_fetch_timestamp_seconds is already registered as another kind of metric than a histogram',
    );
    expect(() => gauge(registry, DATA_LAST_FETCH, (g) => g.set(2))).toThrow(
      'A metric with the name cryptoagg_data_last_fetch_timestamp_seconds has already been registered.',
    );
  });

  it('reads a collected gauge at scrape time, and sums the sources of a summed gauge', async () => {
    const registry = new Registry();
    let fetchedAt: Date | null = null;
    gauge(registry, DATA_LAST_FETCH, (g) => g.set(timestampSeconds(fetchedAt)));
    const sizes = summedGauge(registry, CACHE_MEMORY_BYTES);
    expect(summedGauge(registry, CACHE_MEMORY_BYTES)).toBe(sizes);
    const a = () => 100;
    sizes.add(a);
    sizes.add(() => 23);
    expect(await value(registry, DATA_LAST_FETCH.name)).toBe('0');
    expect(await value(registry, CACHE_MEMORY_BYTES.name)).toBe('123');
    fetchedAt = new Date('2026-11-26T09:25:00.000Z');
    sizes.delete(a);
    expect(await value(registry, DATA_LAST_FETCH.name)).toBe('1795685100');
    expect(await value(registry, CACHE_MEMORY_BYTES.name)).toBe('23');
  });
});

it('defines each name once', () => {
  const names = METRIC_FAMILIES.map((family) => family.name);
  expect(new Set(names).size).toBe(names.length);
  expect(names.every((name) => /^cryptoagg_[a-z0-9_]+$/.test(name))).toBe(true);
});
