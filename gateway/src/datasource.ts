import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { SUBGRAPH_SECRET_HEADER } from '@cryptoagg/core';
import type { Histogram } from 'prom-client';

type ProcessOptions = Parameters<RemoteGraphQLDataSource['process']>[0];
type ProcessResult = Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;

/**
 * A subgraph data source that sends the shared secret and times every fetch
 * by subgraph and outcome: success, graphql_error (the subgraph answered with
 * errors) or error (no usable answer: refused connection, timeout, 5xx).
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource {
  constructor(
    options: { name: string; url: string; secret: string | undefined },
    private readonly duration: Histogram<'subgraph' | 'outcome'>,
    private readonly subgraph = options.name,
  ) {
    super({
      url: options.url,
      // Node's own fetch (undici, keep-alive) rather than the default make-fetch-happen, whose HTTP-cache
      // machinery costs time on every subgraph request and caches nothing for POSTs.
      fetcher: fetch as unknown as RemoteGraphQLDataSource['fetcher'],
      willSendRequest: ({ request }) => {
        if (options.secret) request.http?.headers.set(SUBGRAPH_SECRET_HEADER, options.secret);
      },
    });
  }

  override async process(options: ProcessOptions): Promise<ProcessResult> {
    const started = performance.now();
    const observe = (outcome: string) => this.duration.observe({ subgraph: this.subgraph, outcome }, (performance.now() - started) / 1000);
    try {
      const result = await super.process(options);
      observe(result.errors?.length ? 'graphql_error' : 'success');
      return result;
    } catch (error) {
      observe('error');
      // No answer at all (refused, reset, timeout): say which part of the API is missing, without internals.
      throw new GraphQLError(`The ${this.subgraph} service is unavailable; try again shortly`, {
        extensions: { code: 'SERVICE_UNAVAILABLE', serviceName: this.subgraph },
        originalError: error instanceof Error ? error : undefined,
      });
    }
  }
}
