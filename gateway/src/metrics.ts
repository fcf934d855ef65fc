import { CACHE_REQUESTS, counter, DATA_LAST_FETCH, gauge, timestampSeconds } from '@cryptoagg/metrics';
import type { Registry } from 'prom-client';

/**
 * The gateway has no database (in Kubernetes only the subgraphs reach it), so
 * it reads data freshness through the prices subgraph at scrape time, which
 * answers from its cache.
 */
export function registerGatewayMetrics(registry: Registry, freshness: () => Promise<Date | null>): void {
  gauge(registry, DATA_LAST_FETCH, async (g) => {
    const at = await freshness().catch(() => undefined);
    if (at !== undefined) g.set(timestampSeconds(at));
  });
  // The gateway's whole-response cache counts here: exported (at zero) even when RESPONSE_CACHE_TTL_MS=0 turns it off.
  counter(registry, CACHE_REQUESTS);
}

export async function fetchFreshness(pricesUrl: string, headers: Record<string, string>): Promise<Date | null> {
  const response = await fetch(pricesUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: '{ fetchStatus { lastFetchedAt } }' }),
    signal: AbortSignal.timeout(2_000),
  });
  const body = (await response.json()) as { data?: { fetchStatus?: { lastFetchedAt?: string | null } } };
  const at = body.data?.fetchStatus?.lastFetchedAt;
  if (at === undefined) throw new Error('no fetchStatus in the answer');
  return at === null ? null : new Date(at);
}
