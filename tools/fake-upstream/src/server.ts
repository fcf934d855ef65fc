import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/**
 * The HTTP scaffolding every fake upstream shares (the fake CoinGecko and each fake exchange), over `node:http` only:
 * listening, the /__fake/* control routes, request recording, the faults common to all (hang, delay, rate limit,
 * server error, scoped by pathPrefix), the round and its auto-advance, and a close that ends hanging requests.
 * Each fake passes in only what is its own: its routes, how its errors look, its own faults and state.
 */

export interface RecordedRequest {
  method: string;
  /** raw pathname relative to the fake's base path (CoinGecko's /api/v3), e.g. '/coins/markets' or '/coins/1move%20token' */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  at: number;
  /** status answered; 0 while unanswered (hang) */
  status: number;
}

/** The faults every fake has, checked in this order before its own routes answer. */
export interface CommonFaults {
  /** answer the next `count` requests with 429 (and Retry-After when retryAfterSeconds is set) */
  rateLimit?: { count: number; retryAfterSeconds?: number };
  /** answer the next `count` requests (or every request when 'always') with `status` (default 503) */
  serverError?: { count: number | 'always'; status?: number };
  /** delay every response by ms */
  delayMs?: number;
  /** never answer (until reset/close) */
  hang?: boolean;
  /** apply faults only to request paths starting with this prefix (with or without the fake's base path) */
  pathPrefix?: string;
}

/** What the fake answers: a status, the body as sent, and headers over the default JSON content type. */
type Reply = [status: number, body: string, headers?: Record<string, string>];

export interface FakeServerOptions<F extends CommonFaults> {
  port?: number;
  host?: string;
  autoAdvanceMs?: number;
  /** where the API lives below the root ('/api/v3' for CoinGecko): recorded paths are relative to it, and control routes answer there too */
  base?: string;
  /** headers on every answer, control routes included */
  headers?: Record<string, string>;
  faultsSchema: z.ZodType<F>;
  /** GET control routes of the fake's own, e.g. '/__fake/exchanges', answered with the JSON of what they return */
  controlRoutes?: Record<string, () => unknown>;
  /** the 429 for the rateLimit fault */
  rateLimited(fault: NonNullable<F['rateLimit']>): Reply;
  /** the answer for the serverError fault */
  serverError(status: number): Reply;
  /** the fake's own answer, once no common fault has answered; `faults` are those that apply to this path */
  serve(req: IncomingMessage, url: URL, path: string, faults: Partial<F>): Reply;
  /** clears the fake's own state on reset */
  onReset?(): void;
}

export interface FakeServer<F extends CommonFaults> {
  /** http://host:port, without the base path */
  url: string;
  port: number;
  /** current round; assigning it is the same as setRound */
  round: number;
  readonly faults: F;
  setRound(round: number): void;
  setFaults(faults: F): void;
  requests: RecordedRequest[];
  /** round 0, no faults, requests cleared, hanging requests ended, then the fake's own reset */
  reset(): void;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const roundSchema = z.number().int().min(0);

/** The common faults' schema with a fake's own faults, `pathPrefix` last as in the fakes' replies; `rateLimit` takes the fake's extra options. */
export function faultsSchema<R extends z.ZodRawShape, S extends z.ZodRawShape>(rateLimit: R, own: S) {
  return z.strictObject({
    rateLimit: z.strictObject({ count: z.number().int().min(0), retryAfterSeconds: z.number().min(0).optional(), ...rateLimit }).optional(),
    serverError: z
      .strictObject({ count: z.union([z.number().int().min(0), z.literal('always')]), status: z.number().int().min(400).max(599).optional() })
      .optional(),
    delayMs: z.number().min(0).optional(),
    hang: z.boolean().optional(),
    ...own,
    pathPrefix: z.string().optional(),
  });
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

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function startFakeServer<F extends CommonFaults>(options: FakeServerOptions<F>): Promise<FakeServer<F>> {
  const base = options.base ?? '';
  let round = 0;
  const none = (): F => options.faultsSchema.parse({});
  let faults = none();
  let closed = false;
  const requests: RecordedRequest[] = [];
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
  const send = (res: ServerResponse, [status, body, headers = {}]: Reply): void => {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': JSON_TYPE, ...options.headers, ...headers });
    res.end(body);
  };
  const endHanging = (): void => {
    for (const res of hanging) res.destroy();
    hanging.clear();
  };

  async function control(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    const reply = (status: number, body: unknown): void => send(res, [status, JSON.stringify(body)]);
    const own = options.controlRoutes?.[route];
    if (req.method === 'GET' && route === '/__fake/requests') return reply(200, requests);
    if (req.method === 'GET' && own) return reply(200, own());
    if (req.method !== 'POST') return reply(404, { error: 'Not found' });
    try {
      const body = await readBody(req);
      if (route === '/__fake/round') fake.setRound(z.object({ round: roundSchema }).parse(body).round);
      else if (route === '/__fake/faults') fake.setFaults(options.faultsSchema.parse(body));
      else if (route === '/__fake/reset') fake.reset();
      else return reply(404, { error: 'Not found' });
      reply(200, { ok: true, round, faults });
    } catch (err) {
      reply(400, { error: message(err) });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const path = url.pathname.startsWith(`${base}/`) ? url.pathname.slice(base.length) : url.pathname;
    if (path.startsWith('/__fake/')) return control(req, res, path);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v])),
      at: Date.now(),
      status: 0,
    };
    requests.push(record);
    const reply = (answer: Reply): void => {
      record.status = answer[0];
      send(res, answer);
    };

    const prefix = faults.pathPrefix;
    const f: Partial<F> = prefix === undefined || path.startsWith(prefix) || url.pathname.startsWith(prefix) ? faults : {};
    if (f.hang) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (f.delayMs) await sleep(f.delayMs);
    if (f.rateLimit && f.rateLimit.count > 0) {
      f.rateLimit.count--;
      return reply(options.rateLimited(f.rateLimit));
    }
    if (f.serverError && (f.serverError.count === 'always' || f.serverError.count > 0)) {
      if (f.serverError.count !== 'always') f.serverError.count--;
      return reply(options.serverError(f.serverError.status ?? 503));
    }
    reply(options.serve(req, url, path, f));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else send(res, [500, JSON.stringify({ error: message(err) })]);
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

  const fake: FakeServer<F> = {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    port,
    get round() {
      return round;
    },
    set round(r: number) {
      round = roundSchema.parse(r);
    },
    get faults() {
      return faults;
    },
    setRound(r) {
      round = roundSchema.parse(r);
    },
    setFaults(next) {
      faults = options.faultsSchema.parse(next);
    },
    requests,
    reset() {
      round = 0;
      faults = none();
      requests.length = 0;
      endHanging();
      options.onReset?.();
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
