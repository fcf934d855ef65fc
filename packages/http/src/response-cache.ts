import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import {
  CACHE_REQUESTS,
  counter,
  type CounterFamily,
  GRAPHQL_REQUEST_DURATION,
  histogram,
  RESPONSE_CACHE_BYTES,
  RESPONSE_CACHE_ENTRIES,
  summedGauge,
} from '@cryptoagg/metrics';
import type { Registry } from 'prom-client';
import { operationLabel } from './metrics.js';

/**
 * The header that carries the data version: on every answer of a service that has one, the version the
 * answer was computed from; on the gateway's requests to a subgraph, the newest version the gateway has
 * seen (the subgraph reads it before answering when it is newer than its own).
 */
export const DATA_VERSION_HEADER = 'x-cryptoagg-data-version';

/**
 * The data version a process answers from: the id of the newest finished fetcher run. Data changes only
 * when a run commits, so an answer stays valid exactly as long as the version does.
 */
export interface DataVersionSource {
  /** the newest version known (0 before any) */
  current(): number;
  /** calls `listener` with every change; returns the unsubscribe */
  onChange(listener: (version: number) => void): () => void;
  /**
   * A subgraph's: called when a request says the caller has seen `min`, newer than `current()`. Absent at
   * the gateway, which takes no version from its clients.
   */
  atLeast?(min: number): Promise<void>;
}

export interface ResponseCacheOptions {
  /**
   * A safety bound, not a freshness one: an answer is dropped this long after it was stored even when the
   * data version never changes (data edited by hand, a version that failed to arrive). A new version drops
   * every answer at once.
   */
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
  /** the counter of lookups by result; default cryptoagg_cache_requests_total (the gateway's) */
  lookups?: CounterFamily<'result'>;
}

/**
 * 64 MiB: an eighth of the gateway pod's 512 MiB limit (gitops/base/gateway), which also holds Node and
 * the gateway's query plans (about 100 MiB together) and the answers in flight. 1 MiB per answer: a full
 * 250-coin markets page is far below it, while the answers above it (dozens of raw histories at once) are
 * rarely repeated and would each evict dozens of common ones.
 */
const RESPONSE_CACHE_DEFAULTS = { maxBytes: 64 * 1024 * 1024, maxAnswerBytes: 1024 * 1024, maxEntries: 1_000, abandonAfterMs: 30_000 };

/** What an entry costs besides its bytes: the key, the entry object with its headers, the LRU's slots and its TTL timer. */
const ENTRY_OVERHEAD_BYTES = 512;

/**
 * Clients and shared caches may keep an answer but must ask again before each use: a new data version
 * can come at any moment (a fetcher run commits on no clock we can announce) and the contract promises it
 * within 1 s, so any max-age above 0 could serve a copy older than that. Revalidation is cheap: an
 * If-None-Match that still matches gets a 304 without a body. The data is public (no request carries
 * credentials to the API), so shared caches may keep it.
 */
const ANSWER_CACHE_CONTROL = 'public, max-age=0, must-revalidate';

/** A kept answer: its bytes and the headers they are sent with, built once. */
interface Entry {
  version: number;
  bytes: Buffer;
  etag: string;
  /** the request metrics' label of its operation */
  operation: string;
}

/** What a request carries from the front door into the middleware chain. */
interface RequestState {
  /** the data version when the request started (after reading a newer one a caller had seen) */
  version: number;
  /** the oldest version a part of the answer reports (the gateway: each subgraph fetch's), when any reports one */
  reported?: number;
  /** the cache key of the request (its body's or query string's hash) when the front door read it */
  key?: string;
  /** the body bytes the front door read, for the JSON parser */
  raw?: Buffer;
}

const states = new WeakMap<IncomingMessage, RequestState>();

/**
 * Says which data version (part of) the answer to `req` was computed from: the gateway reports each
 * subgraph fetch's. The answer counts as computed from the oldest reported, and is kept only when that
 * is still the newest version the process knows.
 */
export function reportAnswerVersion(req: IncomingMessage, version: number): void {
  const state = states.get(req);
  if (state && (state.reported === undefined || version < state.reported)) state.reported = version;
}

/** A version as a header carries it; anything else is none. */
export function parseDataVersion(value: string | string[] | null | undefined): number | undefined {
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/** Entity tags in an If-None-Match, compared weakly (RFC 9110 13.1.2): `W/"x"` matches `"x"`, `*` matches any. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const tag = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((candidate) => {
    const trimmed = candidate.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === tag;
  });
}

const NEVER = { version: 0, onChange: () => () => undefined };

export interface ResponseCache {
  /**
   * The front door, before express: answers a kept answer from the raw request (its body bytes hashed, no
   * JSON parse, no routing) and hands anything else to `next` (express), with what it read.
   */
  handle(req: IncomingMessage, res: ServerResponse, next: () => void): void;
  /** the JSON body parser of the GraphQL route: parses the bytes the front door read, or reads them itself */
  bodyParser(json: RequestHandler): RequestHandler;
  /** on the GraphQL route, before Apollo: lets concurrent identical requests share one execution and keeps its answer */
  middleware: RequestHandler;
}

export interface FrontDoorOptions {
  /** the GraphQL paths (exact) */
  paths: readonly string[];
  /** the request body limit in bytes: a larger body is left to express (413) */
  bodyLimit: number;
  /** true when the request may be answered (e.g. it carries the subgraph secret); else express answers it */
  admitted: (req: IncomingMessage) => boolean;
  version?: DataVersionSource | undefined;
}

/** `application/json`, in UTF-8 (or no charset): what the front door reads itself; anything else goes the long way. */
function plainJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  if (type === undefined) return false;
  const [media, ...parameters] = type.toLowerCase().split(';');
  if (media?.trim() !== 'application/json') return false;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  return parameters.every((p) => {
    const [name, value] = p.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    return name !== 'charset' || value === 'utf-8' || value === 'utf8';
  });
}

/** Apollo's CSRF rule for GET: a header a browser's simple request cannot send. */
function preflighted(req: IncomingMessage): boolean {
  return req.headers['apollo-require-preflight'] !== undefined || req.headers['x-apollo-operation-name'] !== undefined;
}

/**
 * Reads the data version a request starts from: a subgraph first reads a newer one its caller (the
 * gateway) has seen. Shared by the front door and the middleware chain; recorded once per request.
 */
export async function requestVersion(req: IncomingMessage, source: DataVersionSource | undefined): Promise<RequestState> {
  const known = states.get(req);
  if (known) return known;
  if (source?.atLeast) {
    const min = parseDataVersion(req.headers[DATA_VERSION_HEADER]);
    if (min !== undefined && min > source.current()) await source.atLeast(min);
  }
  const state: RequestState = { version: source?.current() ?? 0 };
  states.set(req, state);
  return state;
}

/**
 * Whole-response caching keyed by the data version: a successful answer (HTTP 200, no GraphQL errors)
 * to a query is kept until the version changes (or the safety TTL passes), keyed by the version and the
 * hash of the request's raw body (POST) or query string (GET), and concurrent identical requests wait for
 * one execution. An answer is kept only when computed from the newest version the process knows: one
 * computed from an older version (a subgraph that had not seen the newest yet) is answered but never kept.
 * Hits are answered before express (see `handle`), with a strong ETag and a 304 for a matching
 * If-None-Match. Memory is bounded in bytes, not only in answers: distinct large answers evict the least
 * recently used ones, an answer above `maxAnswerBytes` is never kept, and a version change empties it.
 * Mutations are never cached (the API has none, and a document with one is passed through).
 */
export function responseCache(options: ResponseCacheOptions, door: FrontDoorOptions, registry: Registry, operations: readonly string[]): ResponseCache {
  const { maxBytes, maxAnswerBytes, maxEntries, abandonAfterMs } = { ...RESPONSE_CACHE_DEFAULTS, ...definedOnly(options) };
  const source = door.version;
  const versionNow = () => source?.current() ?? NEVER.version;
  const entries = new LRUCache<string, Entry>({
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (entry) => entry.bytes.length + ENTRY_OVERHEAD_BYTES,
    ttl: options.ttlMs,
    // Without it an expired answer stays in memory until it is asked for again or evicted.
    ttlAutopurge: true,
  });
  // Answers of an older version can never be served again: they leave memory at once.
  (source ?? NEVER).onChange(() => entries.clear());
  // Read at scrape time, summed over the response caches of this registry.
  summedGauge(registry, RESPONSE_CACHE_BYTES).add(() => entries.calculatedSize);
  summedGauge(registry, RESPONSE_CACHE_ENTRIES).add(() => entries.size);
  /** executions in progress by version and key; each request that started one owns its own promise */
  const pending = new Map<string, Promise<Entry | undefined>>();
  const lookups = counter(registry, options.lookups ?? CACHE_REQUESTS);
  const hits = lookups.labels({ result: 'hit' });
  const misses = lookups.labels({ result: 'miss' });
  // A cached answer is a request too: it counts with the others, as a success.
  const duration = histogram(registry, GRAPHQL_REQUEST_DURATION);
  // One child per operation label, found once: prom-client hashes a label object on every observe.
  const durations = new Map<string, ReturnType<typeof duration.labels>>();
  const observe = (operation: string, seconds: number) => {
    let child = durations.get(operation);
    if (!child) durations.set(operation, (child = duration.labels({ operation, outcome: 'success' })));
    child.observe(seconds);
  };
  const paths = new Set(door.paths);

  const send = (req: IncomingMessage, res: ServerResponse, entry: Entry, started: number) => {
    hits.inc();
    const fresh = matches(req.headers['if-none-match'], entry.etag);
    res.writeHead(fresh ? 304 : 200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': entry.bytes.length,
      etag: entry.etag,
      'cache-control': ANSWER_CACHE_CONTROL,
      [DATA_VERSION_HEADER]: entry.version,
    });
    res.end(fresh ? undefined : entry.bytes);
    observe(entry.operation, (performance.now() - started) / 1000);
  };

  /** The kept answer of a request, or the one being computed for it, when there is either. */
  const lookup = (version: number, key: string): Entry | Promise<Entry | undefined> | undefined =>
    entries.get(`${version}:${key}`) ?? pending.get(`${version}:${key}`);

  const handle = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const started = performance.now();
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    if (!paths.has(query === -1 ? url : url.slice(0, query)) || !door.admitted(req)) return next();
    let read: Promise<Buffer | undefined>;
    if (req.method === 'POST') {
      const length = Number(req.headers['content-length']);
      // Chunked bodies, other types and encodings, and bodies over the limit are express's (with its errors).
      if (!plainJson(req) || !Number.isSafeInteger(length) || length > door.bodyLimit || req.headers['transfer-encoding'] !== undefined) return next();
      read = new Promise((resolve) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
        // A client that goes away mid-body gets nothing (after 'end' this changes nothing: a promise settles once).
        req.on('error', () => resolve(undefined));
        req.on('close', () => resolve(undefined));
      });
    } else if (req.method === 'GET' && query !== -1 && preflighted(req)) {
      read = Promise.resolve(Buffer.alloc(0));
    } else {
      return next();
    }
    void read
      .then(async (raw) => {
        if (raw === undefined) return;
        const state = await requestVersion(req, source);
        state.key = createHash('sha1')
          .update(req.method === 'POST' ? raw : `GET ${url.slice(query)}`)
          .digest('base64url');
        if (req.method === 'POST') state.raw = raw;
        const found = lookup(state.version, state.key);
        if (found instanceof Promise) {
          const entry = await found;
          if (entry) return send(req, res, entry, started);
        } else if (found) {
          return send(req, res, found, started);
        }
        next();
      })
      // Nothing above is expected to throw; if it did, express answers (with its error handling) unless an answer went out.
      .catch(() => {
        if (!res.headersSent) next();
      });
  };

  const bodyParser =
    (json: RequestHandler): RequestHandler =>
    (req, res, next) => {
      const raw = states.get(req)?.raw;
      if (raw === undefined) return json(req, res, next);
      // The front door read the bytes: the same parser (same limits, same errors) reads them again from memory.
      const replay = Object.assign(Readable.from([raw], { objectMode: false }), { headers: req.headers });
      json(replay as unknown as typeof req, res, (error?: unknown) => {
        req.body = (replay as unknown as { body?: unknown }).body;
        next(error);
      });
    };

  const middleware: RequestHandler = (req, res, next) => {
    const state = states.get(req);
    const params = (req.method === 'POST' ? req.body : req.query) as { query?: unknown; operationName?: unknown } | undefined;
    // Only what the front door read has a key; a document with a mutation is never kept.
    if (!state?.key || typeof params?.query !== 'string' || /\bmutation\b/.test(params.query)) return next();
    const { key, version } = state;
    const started = performance.now();
    const found = lookup(version, key);
    if (found instanceof Promise) {
      void found.then((entry) => (entry ? send(req, res, entry, started) : next()));
      return;
    }
    if (found) return send(req, res, found, started);
    misses.inc();
    const operation = operationLabel(typeof params.operationName === 'string' ? params.operationName : null, operations);
    let settle: (entry: Entry | undefined) => void = () => undefined;
    const execution = new Promise<Entry | undefined>((resolve) => (settle = resolve));
    const pendingKey = `${version}:${key}`;
    pending.set(pendingKey, execution);
    let abandon: NodeJS.Timeout | undefined;
    const finish = (entry: Entry | undefined) => {
      clearTimeout(abandon);
      // A newer request may own the key by now (this one was abandoned): leave its execution shared.
      if (pending.get(pendingKey) === execution) pending.delete(pendingKey);
      settle(entry);
    };
    // Capture what Apollo sends; keep it only when it is a complete, error-free 200 answer of a bounded size
    // computed from the newest version known.
    const end = res.end.bind(res) as (chunk?: unknown, ...rest: unknown[]) => Response;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      let entry: Entry | undefined;
      const computedFrom = state.reported ?? version;
      if (res.statusCode === 200 && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        if (bytes.subarray(0, 8).toString() === '{"data":' && !bytes.includes('"errors":')) {
          entry = { version: computedFrom, bytes, etag: `"${createHash('sha1').update(bytes).digest('base64url')}"`, operation };
        }
      }
      if (entry && entry.bytes.length <= maxAnswerBytes && computedFrom === versionNow()) entries.set(`${computedFrom}:${key}`, entry);
      // Requests already waiting get even an answer too large (or too old) to keep: it exists, and they asked
      // for it at the same version as this one.
      finish(entry);
      if (!res.headersSent) {
        res.setHeader(DATA_VERSION_HEADER, computedFrom);
        if (entry) {
          res.setHeader('etag', entry.etag);
          res.setHeader('cache-control', ANSWER_CACHE_CONTROL);
          if (matches(req.headers['if-none-match'], entry.etag)) {
            res.statusCode = 304;
            return end();
          }
        }
      }
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

  return { handle, bodyParser, middleware };
}

/** The options that are set: an explicit `undefined` must not override a default. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
