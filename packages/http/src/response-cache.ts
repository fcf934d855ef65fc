import { createHash } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { CACHE_REQUESTS, counter, GRAPHQL_REQUEST_DURATION, histogram, RESPONSE_CACHE_BYTES, RESPONSE_CACHE_ENTRIES, summedGauge } from '@cryptoagg/metrics';
import type { Registry } from 'prom-client';
import { operationLabel } from './metrics.js';

export interface ResponseCacheOptions {
  /** how long a response is served from memory; bounds staleness (the contract allows 5 s) */
  ttlMs: number;
  /** bytes of answers kept at most (least recently used answers make room); default 64 MiB */
  maxBytes?: number;
  /** a larger answer is still answered (and shared with the requests waiting for it) but never kept; default 1 MiB */
  maxAnswerBytes?: number;
  /** answers kept at most; default 1,000 */
  maxEntries?: number;
  /**
   * how long the requests waiting for an execution whose client went away keep waiting for it to end before
   * each runs its own; default 30 s, beyond any execution the subgraphs' statement timeouts allow
   */
  abandonAfterMs?: number;
}

/**
 * 64 MiB: an eighth of the gateway pod's 512 MiB limit (gitops/base/gateway), which also holds Node and
 * the gateway's query plans (about 100 MiB together), the answers in flight and, for one TTL after
 * expiry, the stale copies this cache still counts. 1 MiB per answer: a full 250-coin markets page is
 * far below it, while the answers above it (dozens of raw histories at once) are rarely repeated and
 * would each evict dozens of common ones.
 */
const RESPONSE_CACHE_DEFAULTS = { maxBytes: 64 * 1024 * 1024, maxAnswerBytes: 1024 * 1024, maxEntries: 1_000, abandonAfterMs: 30_000 };

/** What an entry costs besides its bytes: the key, the entry object, the LRU's slots and its TTL timer. */
const ENTRY_OVERHEAD_BYTES = 256;

interface Body {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

interface Entry {
  bytes: Buffer;
  storedAt: number;
}

/**
 * Whole-response caching at the gateway: a successful answer (HTTP 200, no
 * GraphQL errors) to a POSTed query is kept for `ttlMs`, keyed by the query,
 * operation name and variables, and concurrent identical requests wait for one
 * execution. Once older than `ttlMs` the next request refreshes it while the
 * others keep getting the stale copy (for at most another `ttlMs`), so a hot
 * query never makes every client wait at expiry. A short TTL keeps the contract's freshness (the subgraphs
 * invalidate their caches on each fetcher run; this one simply expires) while
 * a hot query costs one execution per TTL instead of one per request.
 * Memory is bounded in bytes, not only in answers: distinct large answers evict
 * the least recently used ones, an answer above `maxAnswerBytes` is never kept,
 * and expired answers leave memory when they expire.
 * Mutations are never cached (the API has none, and a document with one is
 * passed through).
 */
export function responseCache(options: ResponseCacheOptions, registry: Registry, operations: readonly string[]): RequestHandler {
  const { maxBytes, maxAnswerBytes, maxEntries, abandonAfterMs } = { ...RESPONSE_CACHE_DEFAULTS, ...definedOnly(options) };
  // Entries live twice the TTL: in the second half they are stale, served while one request refreshes them.
  const entries = new LRUCache<string, Entry>({
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (entry) => entry.bytes.length + ENTRY_OVERHEAD_BYTES,
    ttl: options.ttlMs * 2,
    // Without it an expired answer stays in memory until it is asked for again or evicted.
    ttlAutopurge: true,
  });
  // Read at scrape time, summed over the response caches of this registry.
  summedGauge(registry, RESPONSE_CACHE_BYTES).add(() => entries.calculatedSize);
  summedGauge(registry, RESPONSE_CACHE_ENTRIES).add(() => entries.size);
  /** executions in progress by key; each request that started one owns its own promise */
  const pending = new Map<string, Promise<Buffer | undefined>>();
  const lookups = counter(registry, CACHE_REQUESTS);
  // A cached answer is a request too: it counts with the others, as a success.
  const duration = histogram(registry, GRAPHQL_REQUEST_DURATION);

  const send = (res: Response, bytes: Buffer) => {
    res.status(200).setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', bytes.length);
    res.end(bytes);
  };

  return (req, res, next) => {
    const body = req.body as Body | undefined;
    if (req.method !== 'POST' || !body || typeof body.query !== 'string' || /\bmutation\b/.test(body.query)) return next();
    const started = performance.now();
    const key = createHash('sha1')
      .update(`${typeof body.operationName === 'string' ? body.operationName : ''}\0${body.query}\0${JSON.stringify(body.variables ?? {})}`)
      .digest('base64');
    const observe = () =>
      duration.observe(
        { operation: operationLabel(typeof body.operationName === 'string' ? body.operationName : null, operations), outcome: 'success' },
        (performance.now() - started) / 1000,
      );

    const cached = entries.get(key);
    const inFlight = pending.get(key);
    // Fresh, or stale while another request is already refreshing it: answer from memory.
    if (cached && (performance.now() - cached.storedAt <= options.ttlMs || inFlight)) {
      lookups.inc({ result: 'hit' });
      send(res, cached.bytes);
      observe();
      return;
    }
    if (inFlight) {
      void inFlight.then((bytes) => {
        if (!bytes) return next();
        lookups.inc({ result: 'hit' });
        send(res, bytes);
        observe();
      });
      return;
    }
    lookups.inc({ result: 'miss' });
    let settle: (bytes: Buffer | undefined) => void = () => undefined;
    const execution = new Promise<Buffer | undefined>((resolve) => (settle = resolve));
    pending.set(key, execution);
    let abandon: NodeJS.Timeout | undefined;
    const finish = (bytes: Buffer | undefined) => {
      clearTimeout(abandon);
      // A newer request may own the key by now (this one was abandoned): leave its execution shared.
      if (pending.get(key) === execution) pending.delete(key);
      settle(bytes);
    };
    // Capture what Apollo sends; keep it only when it is a complete, error-free 200 answer of a bounded size.
    const end = res.end.bind(res) as (chunk?: unknown, ...rest: unknown[]) => Response;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      let bytes: Buffer | undefined;
      if (res.statusCode === 200 && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
        const candidate = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        if (candidate.subarray(0, 8).toString() === '{"data":' && !candidate.includes('"errors":')) bytes = candidate;
      }
      if (bytes && bytes.length <= maxAnswerBytes) entries.set(key, { bytes, storedAt: performance.now() });
      // Requests already waiting get even an answer too large to keep: it exists, and they asked for it.
      finish(bytes);
      return end(chunk, ...rest);
    }) as Response['end'];
    res.on('close', () => {
      if (res.writableEnded) return;
      // The client went away, but Apollo goes on executing and its end() still answers those waiting. Only
      // an execution that never ends releases them, each to run its own, after a bound.
      abandon = setTimeout(() => finish(undefined), abandonAfterMs);
      abandon.unref();
    });
    next();
  };
}

/** The options that are set: an explicit `undefined` must not override a default. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
