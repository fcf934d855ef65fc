import { readContractOperations } from '@cryptoagg/core';

/** The contract's public operations (schema/contract/operations.graphql), as clients send them. */
export const OPERATIONS = readContractOperations();

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

/** A POST as a client sends it; returns the HTTP status with the parsed body. */
export async function gql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  operationName?: string,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables, ...(operationName ? { operationName } : {}) }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: response.status, ...body };
}

/**
 * The value of one Prometheus sample in a service's /metrics text, e.g.
 * metric(url, 'cryptoagg_cache_requests_total{result="hit"}'); `missing` when
 * the service does not export it (0: a counter not yet incremented).
 */
export async function metric(serviceUrl: string, sample: string, missing = 0): Promise<number> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : missing;
}
