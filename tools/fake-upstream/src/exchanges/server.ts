import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { faultsSchema, startFakeServer, type CommonFaults, type RecordedRequest } from '../server.js';
import { type ExchangeName, type FakePair, pairValues } from './markets.js';

/**
 * One fake exchange over real HTTP (`node:http` only), on its own port as each real exchange has its
 * own base URL, with the fake CoinGecko's fault modes plus the exchanges' own traps: halted pairs
 * (a price of 0), malformed numbers, a body that is not the JSON expected, and (Kraken) errors in HTTP 200.
 */

/** The common faults (`pathPrefix` the whole path, e.g. '/api/v3/ticker') and the exchanges' own. */
export interface FakeExchangeFaults extends CommonFaults {
  /** answer 200 with a body that is not the JSON the endpoint promises (cut off mid-way) */
  garbage?: boolean;
  /** serve these pairs' ticker numbers as "abc" */
  malformed?: string[];
  /** serve these pairs halted: a price of 0 (Binance `lastPrice "0.00000000"`, Kraken `c ["0.00000", ...]`) */
  halted?: string[];
  /** Kraken: answer 200 with these errors in `error` (e.g. `EService:Unavailable`); ignored by the others */
  errors?: string[];
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

const exchangeFaults = faultsSchema(
  {},
  {
    garbage: z.boolean().optional(),
    malformed: z.array(z.string()).optional(),
    halted: z.array(z.string()).optional(),
    errors: z.array(z.string()).optional(),
  },
);

export async function startExchange(definition: ExchangeDefinition, options: FakeExchangeOptions = {}): Promise<FakeExchange> {
  const overrides = new Map<string, TickerOverride>();

  const served = (pair: FakePair): Served => {
    const { round, faults } = server;
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
      return server.round;
    },
    get faults() {
      return server.faults;
    },
    served,
  };

  const server = await startFakeServer<FakeExchangeFaults>({
    ...options,
    faultsSchema: exchangeFaults,
    rateLimited: ({ retryAfterSeconds }) => [
      429,
      JSON.stringify(definition.rateLimited),
      retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) },
    ],
    serverError: (status) => [status, `<html><body><h1>${status} ${STATUS_CODES[status] ?? 'Error'}</h1></body></html>\n`, { 'content-type': 'text/html' }],
    serve(req, url, path, f) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return [405, JSON.stringify({ error: 'Method not allowed' })];
      const answer = definition.route(path, url.searchParams, state);
      const [status] = answer;
      const text = answer.length === 3 ? answer[1] : JSON.stringify(answer[1]);
      // A body cut off mid-way: valid HTTP, not valid JSON.
      if (f.garbage && status === 200) return [200, text.slice(0, Math.max(1, Math.floor(text.length / 2)))];
      return [status, text, answer.length === 3 ? { 'content-type': answer[2] } : undefined];
    },
    onReset: () => overrides.clear(),
  });

  return Object.assign(server, {
    name: definition.name,
    setTicker(pair: string, override: TickerOverride | undefined) {
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
  });
}
