import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { Histogram, type Registry } from 'prom-client';

/** The public operations (the contract's); any other name, or none, is counted as "other" to bound cardinality. */
export const KNOWN_OPERATIONS = ['Markets', 'CoinDetail', 'CoinHistory', 'SearchCoins', 'FetchStatus'];

/** Codes of errors the client caused; anything else in an answer makes it an "error". */
const CLIENT_ERROR_CODES = new Set([
  'BAD_USER_INPUT',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
]);

/**
 * The label for an operation name. The gateway names the operations it sends
 * to subgraphs `<Operation>__<subgraph>__<n>`: they count under <Operation>.
 */
export function operationLabel(name: string | null | undefined, known: readonly string[] = KNOWN_OPERATIONS): string {
  const base = name?.replace(/__[A-Za-z0-9_]+__\d+$/, '');
  return base && known.includes(base) ? base : 'other';
}

export type Outcome = 'success' | 'client_error' | 'error';

export function outcomeOf(codes: readonly unknown[]): Outcome {
  if (codes.length === 0) return 'success';
  return codes.every((code) => typeof code === 'string' && CLIENT_ERROR_CODES.has(code)) ? 'client_error' : 'error';
}

/** cryptoagg_graphql_request_duration_seconds{operation, outcome}: every GraphQL request a service answers. */
export function requestMetrics<TContext extends BaseContext>(registry: Registry): ApolloServerPlugin<TContext> {
  const duration =
    (registry.getSingleMetric('cryptoagg_graphql_request_duration_seconds') as Histogram<'operation' | 'outcome'> | undefined) ??
    new Histogram({
      name: 'cryptoagg_graphql_request_duration_seconds',
      help: 'Duration of GraphQL requests by operation (contract operations by name, the rest as "other") and outcome (success, client_error, error).',
      labelNames: ['operation', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  return {
    requestDidStart: () => {
      const started = performance.now();
      return Promise.resolve({
        willSendResponse: ({ request, operationName, errors, response }) => {
          const codes = [
            // The gateway reports a failed subgraph fetch as a plain Error, without extensions.
            ...(errors ?? []).map((e) => (e.extensions as Record<string, unknown> | undefined)?.code),
            ...(response.body.kind === 'single' ? (response.body.singleResult.errors ?? []).map((e) => e.extensions?.code) : []),
          ];
          duration.observe(
            { operation: operationLabel(operationName ?? request.operationName), outcome: outcomeOf(codes) },
            (performance.now() - started) / 1000,
          );
          return Promise.resolve();
        },
      });
    },
  };
}
