import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { RecordedRequest } from '../index.js';
import { type ExchangeName, type FakePair, pairValues } from './markets.js';

/**
 * One fake exchange over real HTTP (`node:http` only), on its own port as each real exchange has its
 * own base URL, with the fake CoinGecko's fault modes plus the exchanges' own traps: halted pairs
 * (a price of 0), malformed numbers, a body that is not the JSON expected, and (Kraken) errors in HTTP 200.
 */

export interface FakeExchangeFaults {
  /** answer the next `count` requests with 429 (and Retry-After when retryAfterSeconds is set) */
  rateLimit?: { count: number; retryAfterSeconds?: number };
  /** answer the next `count` requests (or every request when 'always') with `status` (default 503) */
  serverError?: { count: number | 'always'; status?: number };
  /** delay every response by ms */
  delayMs?: number;
  /** never answer (until reset/close) */
  hang?: boolean;
  /** answer 200 with a body that is not the JSON the endpoint promises (cut off mid-way) */
  garbage?: boolean;
  /** serve these pairs' ticker numbers as "abc" */
  malformed?: string[];
  /** serve these pairs halted: a price of 0 (Binance `lastPrice "0.00000000"`, Kraken `c ["0.00000", ...]`) */
  halted?: string[];
  /** Kraken: answer 200 with these errors in `error` (e.g. `EService:Unavailable`); ignored by the others */
  errors?: string[];
  /** apply faults only to request paths starting with this prefix, e.g. '/api/v3/ticker' */
  pathPrefix?: string;
}

/** A pair's price (in its quote asset) and volume set by a test, instead of the round's. */
export interface TickerOverride {
  price?: number;
  volume?: number;
}

/** A pair's ticker numbers as the exchange writes them, or why it has none. */
type Served = { price: string; volume: string } | undefined;

export interface ExchangeState {
  readonly round: number;
  readonly faults: FakeExchangeFaults;
  /** the pair's numbers this round, after overrides and the halted/malformed faults; undefined when it has none */
  served(pair: FakePair): Served;
}

/** What an exchange route answers: a status and a JSON value, or literal text. */
export type Answer = [status: number, body: unknown] | [status: number, text: string, contentType: string];

export interface ExchangeDefinition {
  name: ExchangeName;
  pairs: readonly FakePair[];
  /** the exchange's way of writing a price and a volume */
  format(value: number, kind: 'price' | 'volume'): string;
  /** the body of a 429 */
  rateLimited: unknown;
  route(path: string, query: URLSearchParams, state: ExchangeState): Answer;
}

export interface FakeExchange {
  name: ExchangeName;
  /** base URL, as *_BASE_URL takes it */
  url: string;
  port: number;
  round: number;
  setRound(round: number): void;
  setFaults(faults: FakeExchangeFaults): void;
  /** pins a pair's price and/or volume (undefined restores the round's values) */
  setTicker(pair: string, override: TickerOverride | undefined): void;
  /** each tradable pair's price and volume as served now, as a client parses them (halted and malformed pairs left out) */
  tickers(): Map<string, { price: number; volume: number }>;
  requests: RecordedRequest[];
  /** round 0, no faults, no overrides, requests cleared, hanging requests ended */
  reset(): void;
  close(): Promise<void>;
}

export interface FakeExchangeOptions {
  port?: number;
  host?: string;
  autoAdvanceMs?: number;
}

const faultsSchema = z.strictObject({
  rateLimit: z.strictObject({ count: z.number().int().min(0), retryAfterSeconds: z.number().min(0).optional() }).optional(),
  serverError: z
    .strictObject({ count: z.union([z.number().int().min(0), z.literal('always')]), status: z.number().int().min(400).max(599).optional() })
    .optional(),
  delayMs: z.number().min(0).optional(),
  hang: z.boolean().optional(),
  garbage: z.boolean().optional(),
  malformed: z.array(z.string()).optional(),
  halted: z.array(z.string()).optional(),
  errors: z.array(z.string()).optional(),
  pathPrefix: z.string().optional(),
});
const roundSchema = z.number().int().min(0);
const JSON_TYPE = 'application/json; charset=utf-8';

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      try {
        resolve(text === '' ? {} : JSON.parse(text));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

export async function startExchange(definition: ExchangeDefinition, options: FakeExchangeOptions = {}): Promise<FakeExchange> {
  let round = 0;
  let faults: FakeExchangeFaults = {};
  let closed = false;
  const overrides = new Map<string, TickerOverride>();
  const requests: RecordedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();

  const served = (pair: FakePair): Served => {
    const values = pairValues(definition.name, pair, round);
    if (!values || pair.notTrading) return undefined;
    const pinned = overrides.get(pair.pair);
    const price = faults.halted?.includes(pair.pair) ? 0 : (pinned?.price ?? values.price);
    const volume = faults.halted?.includes(pair.pair) ? 0 : (pinned?.volume ?? values.volume);
    if (faults.malformed?.includes(pair.pair)) return { price: 'abc', volume: 'abc' };
    return { price: definition.format(price, 'price'), volume: definition.format(volume, 'volume') };
  };
  const state: ExchangeState = {
    get round() {
      return round;
    },
    get faults() {
      return faults;
    },
    served,
  };

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': JSON_TYPE, ...headers });
    res.end(body);
  };
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  const endHanging = (): void => {
    for (const res of hanging) res.destroy();
    hanging.clear();
  };

  async function control(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    const reply = (status: number, body: unknown): void => send(res, status, JSON.stringify(body));
    if (req.method === 'GET' && route === '/__fake/requests') return reply(200, requests);
    if (req.method !== 'POST') return reply(404, { error: 'Not found' });
    try {
      const body = await readBody(req);
      if (route === '/__fake/round') fake.setRound(z.object({ round: roundSchema }).parse(body).round);
      else if (route === '/__fake/faults') fake.setFaults(faultsSchema.parse(body));
      else if (route === '/__fake/reset') fake.reset();
      else return reply(404, { error: 'Not found' });
      reply(200, { ok: true, round, faults });
    } catch (err) {
      reply(400, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    if (url.pathname.startsWith('/__fake/')) return control(req, res, url.pathname);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v])),
      at: Date.now(),
      status: 0,
    };
    requests.push(record);
    const reply = (status: number, body: string, headers: Record<string, string> = {}): void => {
      record.status = status;
      send(res, status, body, headers);
    };
    const f = faults.pathPrefix === undefined || url.pathname.startsWith(faults.pathPrefix) ? faults : {};
    if (f.hang) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (f.delayMs) await sleep(f.delayMs);
    if (f.rateLimit && f.rateLimit.count > 0) {
      f.rateLimit.count--;
      const retry = f.rateLimit.retryAfterSeconds;
      return reply(429, JSON.stringify(definition.rateLimited), retry === undefined ? {} : { 'retry-after': String(retry) });
    }
    if (f.serverError && (f.serverError.count === 'always' || f.serverError.count > 0)) {
      if (f.serverError.count !== 'always') f.serverError.count--;
      const status = f.serverError.status ?? 503;
      return reply(status, `<html><body><h1>${status} ${STATUS_CODES[status] ?? 'Error'}</h1></body></html>\n`, { 'content-type': 'text/html' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, JSON.stringify({ error: 'Method not allowed' }));
    const answer = definition.route(url.pathname, url.searchParams, state);
    const [status] = answer;
    const text = answer.length === 3 ? answer[1] : JSON.stringify(answer[1]);
    // A body cut off mid-way: valid HTTP, not valid JSON.
    if (f.garbage && status === 200) return reply(200, text.slice(0, Math.max(1, Math.floor(text.length / 2))));
    reply(status, text, answer.length === 3 ? { 'content-type': answer[2] } : {});
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else send(res, 500, JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const advance = options.autoAdvanceMs
    ? setInterval(() => {
        round++;
      }, options.autoAdvanceMs).unref()
    : undefined;

  const fake: FakeExchange = {
    name: definition.name,
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    port,
    get round() {
      return round;
    },
    set round(r: number) {
      round = roundSchema.parse(r);
    },
    setRound(r) {
      round = roundSchema.parse(r);
    },
    setFaults(next) {
      faults = faultsSchema.parse(next);
    },
    setTicker(pair, override) {
      if (override === undefined) overrides.delete(pair);
      else overrides.set(pair, override);
    },
    tickers() {
      const out = new Map<string, { price: number; volume: number }>();
      for (const pair of definition.pairs) {
        const values = served(pair);
        if (!values || values.price === 'abc' || Number(values.price) === 0) continue;
        out.set(pair.pair, { price: Number(values.price), volume: Number(values.volume) });
      }
      return out;
    },
    requests,
    reset() {
      round = 0;
      faults = {};
      overrides.clear();
      requests.length = 0;
      endHanging();
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(advance);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      endHanging();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return fake;
}
