import { publishDataVersion } from '@cryptoagg/cache';

/**
 * After a run's commit: raises the Redis data version to the run's id and publishes it, so the gateway
 * (which has no database) drops the answers of older versions at once. The version is the run id, the
 * same number the subgraphs read from PostgreSQL, never a counter of its own (see packages/cache
 * data-version.ts). Best effort: Postgres NOTIFY already told the subgraphs, the gateway also learns
 * from them, and a Redis outage must not fail a stored run. Resolves to the version Redis now holds.
 */
export function bumpDataVersion(redisUrl: string, keyPrefix: string, runId: number): Promise<number> {
  return publishDataVersion(redisUrl, keyPrefix, runId);
}
