import type { RemoteGraphQLDataSource } from '@apollo/gateway';

type Fetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherInit = NonNullable<Parameters<Fetcher>[1]>;

/** What one subgraph response is made of: read once, handed to every request that waited for it. */
interface SharedResponse {
  url: string;
  status: number;
  statusText: string;
  headers: [string, string][];
  body: ArrayBuffer;
}

/** Statuses whose responses carry no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A fetcher that sends identical requests in flight once: a request with the same URL, method, headers
 * (the secret and the data version the gateway has seen included) and body as one still in flight waits
 * for that one's response, and every waiter gets its own copy of it (the gateway parses and merges each
 * one separately). A failure (refused, reset, timeout) is shared by those waiting for it, and nothing is
 * kept once a request ends: the next identical request is sent again. This is what Hive Gateway does by
 * default; under load, N concurrent clients asking the same thing cost each subgraph one request.
 */
export function dedupingFetcher(inner: Fetcher, onShared?: () => void): Fetcher {
  const inFlight = new Map<string, Promise<SharedResponse>>();
  return async (url: string, init?: FetcherInit) => {
    const method = (init?.method ?? 'GET').toUpperCase();
    if (typeof init?.body !== 'string') return inner(url, init);
    // Header values cannot hold a line break (HTTP forbids it), so lines keep the parts apart; Headers
    // yields names lowercased and sorted, so equal headers give equal keys whatever their order.
    const key = `${method} ${url}\n${[...new Headers(init.headers)].map(([name, value]) => `${name}: ${value}`).join('\n')}\n\n${init.body}`;
    let shared = inFlight.get(key);
    if (shared) onShared?.();
    else {
      shared = inner(url, init).then(async (response) => ({
        url: response.url,
        status: response.status,
        statusText: response.statusText,
        headers: [...response.headers],
        body: await response.arrayBuffer(),
      }));
      inFlight.set(key, shared);
      const forget = () => inFlight.delete(key);
      shared.then(forget, forget);
    }
    const { status, statusText, headers, body, url: responseUrl } = await shared;
    // The constructor copies the bytes: each waiter reads its own.
    const response = new Response(NULL_BODY.has(status) ? null : body, { status, statusText, headers });
    // The gateway names the subgraph's URL in errors from a non-2xx answer; a constructed Response has none.
    Object.defineProperty(response, 'url', { value: responseUrl });
    return response;
  };
}
