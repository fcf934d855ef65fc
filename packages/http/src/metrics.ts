import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GRAPHQL_REQUEST_DURATION, histogram } from '@cryptoagg/metrics';
import { Kind, parse } from 'graphql';
import type { Registry } from 'prom-client';

/** The names of the operations in a document: what a service passes as its known operations (the contract's). */
export const operationNames = (document: string): string[] =>
  parse(document, { noLocation: true }).definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION && d.name ? [d.name.value] : []));

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
 * The label for an operation name: its own when it is one of the `known`
 * operations, else "other", which bounds the label's cardinality. The gateway
 * names the operations it sends to subgraphs `<Operation>__<subgraph>__<n>`:
 * they count under <Operation>.
 */
export function operationLabel(name: string | null | undefined, known: readonly string[]): string {
  const base = name?.replace(/__[A-Za-z0-9_]+__\d+$/, '');
  return base && known.includes(base) ? base : 'other';
}

export type Outcome = 'success' | 'client_error' | 'error';

export function outcomeOf(codes: readonly unknown[]): Outcome {
  if (codes.length === 0) return 'success';
  return codes.every((code) => typeof code === 'string' && CLIENT_ERROR_CODES.has(code)) ? 'client_error' : 'error';
}

/** Times every GraphQL request a service answers, by operation (the `known` ones by name) and outcome. */
export function requestMetrics<TContext extends BaseContext>(registry: Registry, known: readonly string[]): ApolloServerPlugin<TContext> {
  const duration = histogram(registry, GRAPHQL_REQUEST_DURATION);
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
            { operation: operationLabel(operationName ?? request.operationName, known), outcome: outcomeOf(codes) },
            (performance.now() - started) / 1000,
          );
          return Promise.resolve();
        },
      });
    },
  };
}
