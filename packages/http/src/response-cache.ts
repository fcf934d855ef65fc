import { createHash } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { Counter, type Histogram, type Registry } from 'prom-client';
import { operationLabel } from './metrics.js';

export interface ResponseCacheOptions {
  /** how long a response is served from memory; bounds staleness (the contract allows 5 s) */
  ttlMs: number;
  maxEntries?: number;
}

interface Body {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
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
 * Mutations are never cached (the API has none, and a document with one is
 * passed through).
 */
export function responseCache(options: ResponseCacheOptions, registry: Registry, duration: Histogram<'operation' | 'outcome'>): RequestHandler {
  // Entries live twice the TTL: in the second half they are stale, served while one request refreshes them.
  const entries = new LRUCache<string, { bytes: Buffer; storedAt: number }>({ max: options.maxEntries ?? 1_000, ttl: options.ttlMs * 2 });
  const pending = new Map<string, Promise<Buffer | undefined>>();
  const counter =
    (registry.getSingleMetric('cryptoagg_cache_requests_total') as Counter<'result'> | undefined) ??
    new Counter({
      name: 'cryptoagg_cache_requests_total',
      help: 'Cache lookups by result: hit, miss, or error',
      labelNames: ['result'],
      registers: [registry],
    });
  for (const result of ['hit', 'miss', 'error']) counter.inc({ result }, 0);

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
      duration.observe({ operation: operationLabel(typeof body.operationName === 'string' ? body.operationName : null), outcome: 'success' }, (performance.now() - started) / 1000);

    const cached = entries.get(key);
    const inFlight = pending.get(key);
    // Fresh, or stale while another request is already refreshing it: answer from memory.
    if (cached && (performance.now() - cached.storedAt <= options.ttlMs || inFlight)) {
      counter.inc({ result: 'hit' });
      send(res, cached.bytes);
      observe();
      return;
    }
    if (inFlight) {
      void inFlight.then((bytes) => {
        if (!bytes) return next();
        counter.inc({ result: 'hit' });
        send(res, bytes);
        observe();
      });
      return;
    }
    counter.inc({ result: 'miss' });
    let settle: (bytes: Buffer | undefined) => void = () => undefined;
    pending.set(key, new Promise((resolve) => (settle = resolve)));
    const finish = (bytes: Buffer | undefined) => {
      pending.delete(key);
      settle(bytes);
    };
    // Capture what Apollo sends; keep it only when it is a complete, error-free 200 answer.
    const end = res.end.bind(res) as (chunk?: unknown, ...rest: unknown[]) => Response;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      let bytes: Buffer | undefined;
      if (res.statusCode === 200 && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
        const candidate = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        if (candidate.subarray(0, 8).toString() === '{"data":' && !candidate.includes('"errors":')) bytes = candidate;
      }
      if (bytes) entries.set(key, { bytes, storedAt: performance.now() });
      finish(bytes);
      return end(chunk, ...rest);
    }) as Response['end'];
    res.on('close', () => pending.get(key) && finish(undefined));
    next();
  };
}
