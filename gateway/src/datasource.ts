import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { SUBGRAPH_SECRET_HEADER } from '@cryptoagg/core';
import { DATA_VERSION_HEADER, parseDataVersion } from '@cryptoagg/http';
import type { Histogram } from 'prom-client';
import { dedupingFetcher } from './dedupe.js';
import type { GatewayDataVersion } from './version.js';

/** The gateway's per-request context: where each subgraph fetch reports the data version it was computed from. */
export interface GatewayContext {
  reportVersion(version: number): void;
}

type Fetcher = RemoteGraphQLDataSource['fetcher'];

/**
 * How long the gateway waits for a subgraph's whole answer. Node's fetch waits up to 300 s for headers and as long
 * again for the body: a subgraph that stalls (frozen, or cut off without a reset) would hold every request that needs
 * it, and the de-duplicated waiters with it. Past the bound the fetch is aborted and that part of the answer is
 * SERVICE_UNAVAILABLE. Generous: an uncached 10,000-point history answers in well under a second.
 */
const SUBGRAPH_TIMEOUT_MS = 15_000;

/** Node's own fetch, bounded in time (headers and body). */
export function timedFetch(timeoutMs: number): Fetcher {
  return ((url: string, init?: RequestInit) => fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })) as unknown as Fetcher;
}

type ProcessOptions = Parameters<RemoteGraphQLDataSource<GatewayContext>['process']>[0];
type ProcessResult = Awaited<ReturnType<RemoteGraphQLDataSource<GatewayContext>['process']>>;

/**
 * A subgraph data source that sends the shared secret and the newest data version the gateway has seen
 * (the subgraph reads it first when its own is older), sends identical requests in flight once, learns
 * the version each answer was computed from (for the response cache, and for the gateway's own view of
 * the version), and times every fetch by subgraph and outcome: success, graphql_error (the subgraph
 * answered with errors) or error (no usable answer: refused connection, timeout, 5xx).
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    options: { name: string; url: string; secret: string | undefined; version: GatewayDataVersion },
    private readonly duration: Histogram<'subgraph' | 'outcome'>,
    private readonly version = options.version,
    private readonly subgraph = options.name,
  ) {
    super({
      url: options.url,
      // Node's own fetch (undici, keep-alive) rather than the default make-fetch-happen, whose HTTP-cache
      // machinery costs time on every subgraph request and caches nothing for POSTs.
      fetcher: dedupingFetcher(timedFetch(SUBGRAPH_TIMEOUT_MS)),
      // Cache hints are unused (Apollo's cache-control plugin is off): no need to parse each answer's Cache-Control.
      honorSubgraphCacheControlHeader: false,
      willSendRequest: ({ request }) => {
        if (options.secret) request.http?.headers.set(SUBGRAPH_SECRET_HEADER, options.secret);
        request.http?.headers.set(DATA_VERSION_HEADER, String(options.version.current()));
      },
    });
  }

  override async process(options: ProcessOptions): Promise<ProcessResult> {
    const started = performance.now();
    const observe = (outcome: string) => this.duration.observe({ subgraph: this.subgraph, outcome }, (performance.now() - started) / 1000);
    let result: ProcessResult;
    try {
      result = await super.process(options);
    } catch (error) {
      observe('error');
      // No answer at all (refused, reset, timeout): say which part of the API is missing, without internals.
      throw new GraphQLError(`The ${this.subgraph} service is unavailable; try again shortly`, {
        extensions: { code: 'SERVICE_UNAVAILABLE', serviceName: this.subgraph },
        originalError: error instanceof Error ? error : undefined,
      });
    }
    observe(result.errors?.length ? 'graphql_error' : 'success');
    const version = parseDataVersion(result.http?.headers.get(DATA_VERSION_HEADER));
    if (version !== undefined) {
      this.version.observe(version);
      // Health checks and schema loads have no request context.
      (options.context as Partial<GatewayContext>).reportVersion?.(version);
    }
    return result;
  }
}
