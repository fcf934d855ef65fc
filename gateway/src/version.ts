import { watchDataVersion, type DataVersionWatch } from '@cryptoagg/cache';
import { SUBGRAPH_SECRET_HEADER, type Logger } from '@cryptoagg/core';
import { DATA_VERSION_HEADER, parseDataVersion, type DataVersionSource } from '@cryptoagg/http';

/**
 * The newest data version the gateway has seen. It has no database, so it learns the version (the id
 * of the newest committed fetcher run, the number the subgraphs read from PostgreSQL) from:
 * - Redis, when configured: the fetcher publishes each run's id after its commit (a subscription),
 *   and the key is read every `redisPollMs` as a backstop;
 * - the subgraphs: every answer says which version it was computed from (`observe`), and each
 *   subgraph's /healthz is read every `subgraphPollMs`, so that a gateway answering everything from its
 *   cache (asking the subgraphs nothing) still learns a new version when Redis is absent or down.
 * It only moves forward: an answer from an older version is one the subgraph computed before it knew
 * better, never a reason to forget the newer one.
 */
export interface GatewayDataVersion extends DataVersionSource {
  /** a version a subgraph reported */
  observe(version: number): void;
  /** for /readyz, with REDIS_URL: true when Redis answers */
  pingRedis(): Promise<boolean>;
  close(): Promise<void>;
}

export function followDataVersion(options: {
  redisUrl?: string | undefined;
  keyPrefix: string;
  /** each subgraph's GraphQL URL: its /healthz (same origin) reports its version */
  subgraphUrls: readonly string[];
  subgraphSecret?: string | undefined;
  logger: Logger;
  /** default 1 s */
  redisPollMs?: number;
  /** default 250 ms: with the subgraphs' own reads of PostgreSQL (on NOTIFY, else every 500 ms) well within the contract's 1 s */
  subgraphPollMs?: number;
}): GatewayDataVersion {
  const { logger } = options;
  let version = 0;
  const listeners = new Set<(version: number) => void>();
  const observe = (next: number) => {
    if (next <= version) return;
    logger.debug({ from: version, to: next }, 'data version changed');
    version = next;
    for (const listener of listeners) listener(next);
  };

  const watch: DataVersionWatch | undefined = options.redisUrl
    ? watchDataVersion({ redisUrl: options.redisUrl, keyPrefix: options.keyPrefix, onVersion: observe, logger, pollMs: options.redisPollMs ?? 1_000 })
    : undefined;

  const healthUrls = options.subgraphUrls.map((url) => new URL('/healthz', url).toString());
  const headers = options.subgraphSecret ? { [SUBGRAPH_SECRET_HEADER]: options.subgraphSecret } : undefined;
  const polling = new Set<string>();
  const poll = () => {
    for (const url of healthUrls) {
      // A subgraph slower than the interval is asked again only once it has answered.
      if (polling.has(url)) continue;
      polling.add(url);
      fetch(url, { headers, signal: AbortSignal.timeout(2_000) })
        .then(async (response) => {
          const reported = parseDataVersion(response.headers.get(DATA_VERSION_HEADER));
          await response.body?.cancel();
          if (reported !== undefined) observe(reported);
        })
        // A subgraph that is down says so in /readyz; here it simply reports nothing.
        .catch(() => undefined)
        .finally(() => polling.delete(url));
    }
  };
  poll();
  const timer = setInterval(poll, options.subgraphPollMs ?? 250);
  timer.unref();

  return {
    current: () => version,
    observe,
    pingRedis: () => watch?.ping() ?? Promise.resolve(true),
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => {
      clearInterval(timer);
      await watch?.close();
    },
  };
}
