import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The gateway has no database (in Kubernetes only the subgraphs reach it), so
 * it reads data freshness through the prices subgraph at scrape time, which
 * answers from its cache.
 */
export function registerGatewayMetrics(registry: Registry, freshness: () => Promise<Date | null>): void {
  new Gauge({
    name: 'cryptoagg_data_last_fetch_timestamp_seconds',
    help: 'When the newest stored snapshot was fetched from the upstream (Unix seconds; 0 while nothing is stored).',
    registers: [registry],
    async collect() {
      const at = await freshness().catch(() => undefined);
      if (at !== undefined) this.set(at ? at.getTime() / 1000 : 0);
    },
  });
  // The gateway's whole-response cache counts here (and stays at zero when RESPONSE_CACHE_TTL_MS=0).
  const cache = new Counter({
    name: 'cryptoagg_cache_requests_total',
    help: 'Gateway response-cache lookups by result: hit, miss, or error',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of ['hit', 'miss', 'error']) cache.inc({ result }, 0);
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
