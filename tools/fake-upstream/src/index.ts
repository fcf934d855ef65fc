import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createDataset } from './data.js';
import type { CoinDetail, MarketItem } from './data.js';
import { toRubyJson } from './json.js';

export type { CoinDetail, MarketChart, MarketItem, Roi } from './data.js';
export { SUPPORTED_CURRENCIES, TRAPS } from './data.js';
export { rawJson, toRubyJson } from './json.js';
export * from './exchanges/index.js';

export interface FakeFaults {
  /** answer the next `count` requests with 429; retryAfterSeconds sets Retry-After; html=true answers Cloudflare's text/html 1015 page (no Retry-After) */
  rateLimit?: { count: number; retryAfterSeconds?: number; html?: boolean };
  /** answer the next `count` requests (or every request when 'always') with `status` (default 503) */
  serverError?: { count: number | 'always'; status?: number };
  /** delay every response by ms */
  delayMs?: number;
  /** never answer (until reset/close) */
  hang?: boolean;
  /** add malformed items to page 1 of /coins/markets */
  malformedItems?: boolean;
  /** serve the /coins/markets items at these 1-based positions (across pages) malformed, in place: no coin moves up */
  malformedAt?: number[];
  /** serve these coin ids last in /coins/markets, ranked after every other coin: they leave the top */
  demote?: string[];
  /** apply faults only to request paths (relative to /api/v3) starting with this prefix, e.g. '/coins/markets' */
  pathPrefix?: string;
}

export interface RecordedRequest {
  method: string;
  /** raw pathname relative to /api/v3, e.g. '/coins/markets' or '/coins/1move%20token' */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  at: number;
  /** status answered; 0 while unanswered (hang) */
  status: number;
}

export interface FakeCoinGecko {
  url: string;
  port: number;
  /** current round; assigning it is the same as setRound */
  round: number;
  setRound(round: number): void;
  setFaults(faults: FakeFaults): void;
  requests: RecordedRequest[];
  reset(): void;
  markets(currency: string): MarketItem[];
  coinDetail(id: string): CoinDetail | undefined;
  coinIds(): string[];
  /**
   * Replaces what /coins/markets serves for every currency: `edit` gets the round's items in served order
   * (after `demote`) and returns the list to serve in their place, any JSON values (`rawJson` for text
   * JSON.stringify cannot write, like `1e999`). Paging and the item faults apply to the result. `null`
   * restores the data set. `markets()` does not follow it.
   */
  editMarkets(edit: MarketsEdit | null): void;
  /** Serves `body` (any JSON value) for GET /coins/{id}, known id or not, instead of the data set's; `undefined` restores it. */
  setCoinDetail(id: string, body: unknown): void;
  close(): Promise<void>;
}

export type MarketsEdit = (items: MarketItem[], currency: string) => unknown[];

export interface FakeCoinGeckoOptions {
  port?: number;
  host?: string;
  coins?: number;
  currencies?: string[];
  apiKey?: string;
  autoAdvanceMs?: number;
  /**
   * Base URLs of fake exchanges running beside it (BINANCE_BASE_URL, ...), answered at GET /__fake/exchanges:
   * `npm start` pointed at this fake finds them there and reads them instead of the real exchanges.
   */
  exchanges?: Record<string, string>;
}

const BASE = '/api/v3';
const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=UTF-8';

const faultsSchema = z.strictObject({
  rateLimit: z.strictObject({ count: z.number().int().min(0), retryAfterSeconds: z.number().min(0).optional(), html: z.boolean().optional() }).optional(),
  serverError: z
    .strictObject({ count: z.union([z.number().int().min(0), z.literal('always')]), status: z.number().int().min(400).max(599).optional() })
    .optional(),
  delayMs: z.number().min(0).optional(),
  hang: z.boolean().optional(),
  malformedItems: z.boolean().optional(),
  malformedAt: z.array(z.number().int().min(1)).optional(),
  demote: z.array(z.string()).optional(),
  pathPrefix: z.string().optional(),
});
const roundSchema = z.number().int().min(0);

const RATE_LIMITED = {
  status: {
    error_code: 429,
    error_message:
      "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits.",
  },
};
const KEY_MISSING = { status: { error_code: 10002, error_message: 'API Key Missing' } };
const CLOUDFLARE_1015 = `<!DOCTYPE html>
<html lang="en-US"><head><title>Access denied | api.coingecko.com used Cloudflare to restrict access</title></head>
<body><div id="cf-wrapper"><div id="cf-error-details">
<h1><span class="cf-error-type">Error</span> <span class="cf-code-label">1015</span></h1>
<h2 class="cf-subheadline">You are being rate limited</h2>
<p>The owner of this website (api.coingecko.com) has banned you temporarily from accessing this website.</p>
</div></div></body></html>
`;
const cloudflare5xx = (status: number): string => `<html>
<head><title>${status} ${STATUS_CODES[status] ?? 'Error'}</title></head>
<body>
<center><h1>${status} ${STATUS_CODES[status] ?? 'Error'}</h1></center>
<hr><center>cloudflare</center>
</body>
</html>
`;

/** Invalid items spread over page 1 so consumers must skip them mid-page, not just at an edge. */
function withMalformed(page: unknown[], template: MarketItem | undefined): unknown[] {
  if (!template) return page;
  const like = (id: string, patch: Record<string, unknown>): Record<string, unknown> => ({ ...template, id, symbol: 'bad', name: `Malformed ${id}`, ...patch });
  const noId = like('malformed-no-id', {});
  delete noId.id;
  const bad = [
    like('malformed-string-price', { current_price: 'abc' }),
    noId,
    like('malformed-bad-date', { last_updated: 'not-a-date' }),
    like('malformed-object-market-cap', { market_cap: {} }),
  ];
  const out: unknown[] = [...page];
  bad.forEach((item, i) => out.splice(Math.min(1 + 2 * i, out.length), 0, item));
  return out;
}

/** The market order with `demote`d coins moved last, ranked after all others, as a coin that left the top is. */
function ranked(items: MarketItem[], demote: string[] | undefined): MarketItem[] {
  if (!demote?.length) return items;
  const down = new Set(demote);
  const kept = items.filter((c) => !down.has(c.id));
  const lastRank = Math.max(0, ...kept.map((c) => c.market_cap_rank ?? 0));
  return [...kept, ...items.filter((c) => down.has(c.id)).map((c, i) => ({ ...c, market_cap_rank: lastRank + 1 + i }))];
}

function intParam(raw: string | null, fallback: number, max: number): number {
  const n = raw === null ? NaN : Number.parseInt(raw, 10);
  return Number.isFinite(n) ? Math.min(Math.max(n, 1), max) : fallback;
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
}

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

export async function startFakeCoinGecko(options: FakeCoinGeckoOptions = {}): Promise<FakeCoinGecko> {
  const currencies = options.currencies ?? ['usd', 'eur', 'btc'];
  const data = createDataset(options.coins ?? 250, currencies);
  const { apiKey } = options;
  let round = 0;
  let faults: FakeFaults = {};
  let closed = false;
  const requests: RecordedRequest[] = [];
  let marketsEdit: MarketsEdit | null = null;
  const details = new Map<string, unknown>();
  const hanging = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': JSON_TYPE, 'access-control-allow-origin': '*', ...headers });
    res.end(body);
  };
  const endHanging = (): void => {
    for (const res of hanging) res.destroy();
    hanging.clear();
  };

  function api(rel: string, q: URLSearchParams): [number, unknown] {
    if (rel === '/ping') return [200, { gecko_says: '(V3) To the Moon!' }];
    const currency = q.get('vs_currency')?.toLowerCase() ?? '';
    if (rel === '/coins/markets') {
      if (!currencies.includes(currency)) return [400, { error: 'invalid vs_currency' }];
      const perPage = intParam(q.get('per_page'), 100, 250);
      const page = intParam(q.get('page'), 1, Number.MAX_SAFE_INTEGER);
      const pct24 = (q.get('price_change_percentage') ?? '')
        .split(',')
        .map((s) => s.trim())
        .includes('24h');
      const start = (page - 1) * perPage;
      const listed = ranked(data.markets(currency, round, pct24), faults.demote);
      const items = (marketsEdit ? marketsEdit(listed, currency) : listed).slice(start, page * perPage);
      const served = items.map((item, i): unknown =>
        faults.malformedAt?.includes(start + i + 1) && typeof item === 'object' && item !== null ? { ...item, current_price: 'abc' } : item,
      );
      return [200, faults.malformedItems && page === 1 ? withMalformed(served, listed[0]) : served];
    }
    const match = /^\/coins\/([^/]+)(\/market_chart)?\/?$/.exec(rel);
    if (!match?.[1]) return [404, { error: 'Not found' }];
    let id: string;
    try {
      id = decodeURIComponent(match[1]);
    } catch {
      return [404, { error: 'coin not found' }];
    }
    if (!match[2] && details.has(id)) return [200, details.get(id)];
    if (!data.ids.includes(id)) return [404, { error: 'coin not found' }];
    if (!match[2]) return [200, data.detail(id, round)];
    if (!currencies.includes(currency)) return [400, { error: 'invalid vs_currency' }];
    const rawDays = q.get('days') ?? '';
    const days = rawDays === 'max' ? 365 : Number(rawDays);
    if (rawDays === '' || !Number.isFinite(days) || days <= 0) return [400, { error: 'invalid days' }];
    return [200, data.chart(id, currency, round, Math.min(days, 3650))];
  }

  async function control(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    const reply = (status: number, body: unknown): void => send(res, status, JSON.stringify(body));
    if (req.method === 'GET' && route === '/__fake/requests') return reply(200, requests);
    if (req.method === 'GET' && route === '/__fake/exchanges') return reply(200, options.exchanges ?? {});
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
    const rel = url.pathname.startsWith(`${BASE}/`) ? url.pathname.slice(BASE.length) : url.pathname;
    if (rel.startsWith('/__fake/')) return control(req, res, rel);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: rel,
      query: Object.fromEntries(url.searchParams),
      headers: flattenHeaders(req.headers),
      at: Date.now(),
      status: 0,
    };
    requests.push(record);
    const reply = (status: number, body: string, headers: Record<string, string> = {}): void => {
      record.status = status;
      send(res, status, body, headers);
    };

    const prefix = faults.pathPrefix;
    const f = prefix === undefined || rel.startsWith(prefix) || url.pathname.startsWith(prefix) ? faults : {};
    if (f.hang) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (f.delayMs) await sleep(f.delayMs);
    if (f.rateLimit && f.rateLimit.count > 0) {
      f.rateLimit.count--;
      if (f.rateLimit.html) return reply(429, CLOUDFLARE_1015, { 'content-type': HTML_TYPE });
      const retry = f.rateLimit.retryAfterSeconds;
      return reply(429, JSON.stringify(RATE_LIMITED), retry === undefined ? {} : { 'retry-after': String(retry) });
    }
    if (f.serverError && (f.serverError.count === 'always' || f.serverError.count > 0)) {
      if (f.serverError.count !== 'always') f.serverError.count--;
      const status = f.serverError.status ?? 503;
      return reply(status, cloudflare5xx(status), { 'content-type': HTML_TYPE });
    }
    if (apiKey !== undefined) {
      const given = [req.headers['x-cg-demo-api-key'], req.headers['x-cg-pro-api-key'], url.searchParams.get('x_cg_demo_api_key')];
      if (!given.includes(apiKey)) return reply(401, JSON.stringify(KEY_MISSING));
    }
    const [status, body] = req.method === 'GET' || req.method === 'HEAD' ? api(rel, url.searchParams) : [404, { error: 'Not found' }];
    reply(status, toRubyJson(body), status === 200 ? { 'cache-control': 'max-age=30, public, must-revalidate, s-maxage=30' } : {});
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
  // exact values served: the same serialiser the HTTP route uses, parsed back
  const parsed = <T>(value: T): T => JSON.parse(toRubyJson(value)) as T;

  const fake: FakeCoinGecko = {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}${BASE}`,
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
    requests,
    reset() {
      round = 0;
      faults = {};
      requests.length = 0;
      marketsEdit = null;
      details.clear();
      endHanging();
    },
    markets: (currency) => parsed(ranked(data.markets(currency, round, true), faults.demote).filter((_, i) => !faults.malformedAt?.includes(i + 1))),
    coinDetail: (id) => {
      const body = data.detail(id, round);
      return body && parsed(body);
    },
    coinIds: () => [...data.ids],
    editMarkets(edit) {
      marketsEdit = edit;
    },
    setCoinDetail(id, body) {
      if (body === undefined) details.delete(id);
      else details.set(id, body);
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
