/**
 * The gateway's de-duplication of identical subgraph requests in flight, against a real HTTP server
 * that holds its answers until the test releases them: identical requests are sent once and each
 * waiter gets the answer, different ones are not merged, failures are shared but never kept.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { timedFetch } from '../src/datasource.js';
import { dedupingFetcher } from '../src/dedupe.js';

type Fetcher = RemoteGraphQLDataSource['fetcher'];

let server: http.Server;
let url: string;
/** requests the server received: their bodies */
let received: string[] = [];
/** answers held until the test releases them */
let held: (() => void)[] = [];
/** how the server answers the next requests */
let mode: 'answer' | 'reset' | 'error' = 'answer';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push(body);
      held.push(() => {
        if (mode === 'reset') return req.socket.destroy();
        res.writeHead(mode === 'error' ? 502 : 200, { 'content-type': 'application/json', 'x-cryptoagg-data-version': '42' });
        res.end(JSON.stringify({ data: { echo: body, number: received.length } }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  received = [];
  held = [];
  mode = 'answer';
});

const init = (body: string, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

/** Releases every held answer once `count` requests have arrived. */
async function releaseAfter(count: number): Promise<void> {
  await expect.poll(() => received.length).toBe(count);
  // Requests that would wrongly be sent again arrive meanwhile and are counted.
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const release of held.splice(0)) release();
}

it('sends N identical concurrent requests once, and every waiter reads the whole answer with its headers', async () => {
  let shared = 0;
  const fetcher = dedupingFetcher(fetch as unknown as Fetcher, () => shared++);
  const answers = Array.from({ length: 10 }, () => fetcher(url, init('{"query":"{ a }"}', { 'x-subgraph-secret': 's' })));
  await releaseAfter(1);
  const responses = await Promise.all(answers);
  expect(received).toEqual(['{"query":"{ a }"}']);
  expect(shared).toBe(9);
  const bodies = await Promise.all(
    responses.map(async (r) => ({ status: r.status, version: r.headers.get('x-cryptoagg-data-version'), body: (await r.json()) as unknown })),
  );
  expect(bodies).toEqual(Array.from({ length: 10 }, () => ({ status: 200, version: '42', body: { data: { echo: '{"query":"{ a }"}', number: 1 } } })));

  // Nothing is kept: the same request once the first has ended is sent again.
  const later = fetcher(url, init('{"query":"{ a }"}', { 'x-subgraph-secret': 's' }));
  await releaseAfter(2);
  expect(await (await later).json()).toEqual({ data: { echo: '{"query":"{ a }"}', number: 2 } });
});

it('does not merge requests that differ in body or in a header (the secret, the data version seen)', async () => {
  const fetcher = dedupingFetcher(fetch as unknown as Fetcher);
  const answers = [
    fetcher(url, init('{"query":"{ a }"}', { 'x-cryptoagg-data-version': '1' })),
    fetcher(url, init('{"query":"{ a }"}', { 'x-cryptoagg-data-version': '2' })),
    fetcher(url, init('{"query":"{ b }"}', { 'x-cryptoagg-data-version': '2' })),
    // The same headers in another order and case are the same request.
    fetcher(url, { method: 'POST', headers: { 'X-Cryptoagg-Data-Version': '2', 'Content-Type': 'application/json' }, body: '{"query":"{ b }"}' }),
  ];
  await releaseAfter(3);
  const bodies = await Promise.all((await Promise.all(answers)).map((r) => r.json() as Promise<{ data: { echo: string } }>));
  expect(bodies.map((b) => b.data.echo)).toEqual(['{"query":"{ a }"}', '{"query":"{ a }"}', '{"query":"{ b }"}', '{"query":"{ b }"}']);
  expect(received).toHaveLength(3);
});

it('shares a failure with the requests waiting for it, and sends the next request again', async () => {
  const fetcher = dedupingFetcher(fetch as unknown as Fetcher);
  mode = 'reset';
  const failing = Array.from({ length: 5 }, () =>
    fetcher(url, init('{"query":"{ c }"}')).then(
      () => 'answered',
      (error: unknown) => (error instanceof Error ? error.name : 'rejected'),
    ),
  );
  await releaseAfter(1);
  expect(await Promise.all(failing)).toEqual(Array.from({ length: 5 }, () => 'TypeError'));

  // An error status is an answer like any other: shared, with its status, and not kept either.
  mode = 'error';
  const bad = Array.from({ length: 3 }, () => fetcher(url, init('{"query":"{ c }"}')));
  await releaseAfter(2);
  expect((await Promise.all(bad)).map((r) => [r.status, r.url])).toEqual(Array.from({ length: 3 }, () => [502, url]));

  mode = 'answer';
  const recovered = fetcher(url, init('{"query":"{ c }"}'));
  await releaseAfter(3);
  expect((await recovered).status).toBe(200);
});

it('gives up on a subgraph that never answers after the time bound, for every waiter, and keeps nothing', async () => {
  const fetcher = dedupingFetcher(timedFetch(300));
  const started = performance.now();
  const stalled = Array.from({ length: 4 }, () =>
    fetcher(url, init('{"query":"{ d }"}')).then(
      () => 'answered',
      (error: unknown) => (error instanceof Error ? error.name : 'rejected'),
    ),
  );
  // The server holds the answer and is never told to release it.
  expect(await Promise.all(stalled)).toEqual(Array.from({ length: 4 }, () => 'TimeoutError'));
  expect(received).toHaveLength(1);
  expect(performance.now() - started).toBeLessThan(2_000);

  // The next identical request is sent again, and answered when the server answers.
  const next = fetcher(url, init('{"query":"{ d }"}'));
  await releaseAfter(2);
  expect((await next).status).toBe(200);
});
