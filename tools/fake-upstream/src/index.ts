import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { createDataset } from './data.js';
import type { CoinDetail, MarketItem } from './data.js';
import { toRubyJson } from './json.js';
import { faultsSchema, startFakeServer, type CommonFaults, type RecordedRequest } from './server.js';

export type { CoinDetail, MarketChart, MarketItem, Roi } from './data.js';
export { SUPPORTED_CURRENCIES, TRAPS } from './data.js';
export { rawJson, toRubyJson } from './json.js';
export * from './exchanges/index.js';
export type { RecordedRequest } from './server.js';

/** The common faults (`pathPrefix` relative to /api/v3, e.g. '/coins/markets') and the fake CoinGecko's own. */
export interface FakeFaults extends CommonFaults {
  /** answer the next `count` requests with 429; retryAfterSeconds sets Retry-After; html=true answers Cloudflare's text/html 1015 page (no Retry-After) */
  rateLimit?: { count: number; retryAfterSeconds?: number; html?: boolean };
  /** add malformed items to page 1 of /coins/markets */
  malformedItems?: boolean;
  /** serve the /coins/markets items at these 1-based positions (across pages) malformed, in place: no coin moves up */
  malformedAt?: number[];
  /** serve these coin ids last in /coins/markets, ranked after every other coin: they leave the top */
  demote?: string[];
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
const HTML_TYPE = 'text/html; charset=UTF-8';

const coinGeckoFaults = faultsSchema(
  { html: z.boolean().optional() },
  { malformedItems: z.boolean().optional(), malformedAt: z.array(z.number().int().min(1)).optional(), demote: z.array(z.string()).optional() },
);

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

export async function startFakeCoinGecko(options: FakeCoinGeckoOptions = {}): Promise<FakeCoinGecko> {
  const currencies = options.currencies ?? ['usd', 'eur', 'btc'];
  const data = createDataset(options.coins ?? 250, currencies);
  const { apiKey } = options;
  let marketsEdit: MarketsEdit | null = null;
  const details = new Map<string, unknown>();

  function api(rel: string, q: URLSearchParams): [number, unknown] {
    const { round, faults } = server;
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

  const server = await startFakeServer<FakeFaults>({
    port: options.port,
    host: options.host,
    autoAdvanceMs: options.autoAdvanceMs,
    base: BASE,
    headers: { 'access-control-allow-origin': '*' },
    faultsSchema: coinGeckoFaults,
    controlRoutes: { '/__fake/exchanges': () => options.exchanges ?? {} },
    rateLimited: ({ html, retryAfterSeconds }) => {
      if (html) return [429, CLOUDFLARE_1015, { 'content-type': HTML_TYPE }];
      return [429, JSON.stringify(RATE_LIMITED), retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) }];
    },
    serverError: (status) => [status, cloudflare5xx(status), { 'content-type': HTML_TYPE }],
    serve(req, url, rel) {
      if (apiKey !== undefined) {
        const given = [req.headers['x-cg-demo-api-key'], req.headers['x-cg-pro-api-key'], url.searchParams.get('x_cg_demo_api_key')];
        if (!given.includes(apiKey)) return [401, JSON.stringify(KEY_MISSING)];
      }
      const [status, body] = req.method === 'GET' || req.method === 'HEAD' ? api(rel, url.searchParams) : [404, { error: 'Not found' }];
      return [status, toRubyJson(body), status === 200 ? { 'cache-control': 'max-age=30, public, must-revalidate, s-maxage=30' } : undefined];
    },
    onReset() {
      marketsEdit = null;
      details.clear();
    },
  });
  // exact values served: the same serialiser the HTTP route uses, parsed back
  const parsed = <T>(value: T): T => JSON.parse(toRubyJson(value)) as T;

  return Object.assign(server, {
    url: `${server.url}${BASE}`,
    markets: (currency: string) =>
      parsed(ranked(data.markets(currency, server.round, true), server.faults.demote).filter((_, i) => !server.faults.malformedAt?.includes(i + 1))),
    coinDetail: (id: string) => {
      const body = data.detail(id, server.round);
      return body && parsed(body);
    },
    coinIds: () => [...data.ids],
    editMarkets(edit: MarketsEdit | null) {
      marketsEdit = edit;
    },
    setCoinDetail(id: string, body: unknown) {
      if (body === undefined) details.delete(id);
      else details.set(id, body);
    },
  });
}
