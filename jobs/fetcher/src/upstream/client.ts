import type { Logger } from '@cryptoagg/core';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import pRetry from 'p-retry';
import pThrottle from 'p-throttle';

export interface UpstreamOptions {
  baseUrl: string;
  apiKey?: string | undefined;
  /** most requests (retries included) in any sliding window of windowMs */
  ratePerMinute: number;
  windowMs?: number;
  timeoutMs: number;
  retries: number;
  retryBaseMs: number;
  /** aborts every pending and future request: the run's deadline */
  signal: AbortSignal;
  logger: Logger;
  /**
   * Connection refused or a name that does not resolve fails at once instead of being retried: an
   * exchange source that is down costs its run milliseconds, and its previous quotes stay until stale.
   */
  failFastOnConnectionErrors?: boolean;
  /** Judges a 200 answer: an error it returns is thrown (and retried when retryable), e.g. Kraken's errors in HTTP 200. */
  inspect?: (data: unknown, path: string) => UpstreamError | undefined;
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

interface UpstreamStats {
  requests: number;
  /** failed attempts by HTTP status, or `timeout` / `network` */
  errors: Record<string, number>;
}

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly kind: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

const PRO_HOST = 'pro-api.coingecko.com';

/** CoinGecko reads a paid plan's key from another header than the demo plan's. */
export const apiKeyHeader = (baseUrl: string): string => (new URL(baseUrl).hostname === PRO_HOST ? 'x-cg-pro-api-key' : 'x-cg-demo-api-key');

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1_000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function classify(response: AxiosResponse, path: string): UpstreamError {
  const { status } = response;
  if (status === 429) {
    return new UpstreamError(`GET ${path}: 429 rate limited`, '429', true, parseRetryAfter(response.headers['retry-after']));
  }
  return new UpstreamError(`GET ${path}: HTTP ${status}`, String(status), status >= 500);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The CoinGecko client: every attempt goes through one strict sliding-window
 * throttle (so retries count against the rate limit too), 5xx, timeouts and
 * network errors are retried with jittered exponential backoff, and a 429
 * waits for its Retry-After (or a growing backoff when the 429 is Cloudflare's
 * HTML page without one) without using up a retry. Everything stops at the
 * run's deadline.
 */
export function createUpstream(options: UpstreamOptions) {
  const { signal, logger } = options;
  const stats: UpstreamStats = { requests: 0, errors: {} };
  const http: AxiosInstance = axios.create({
    baseURL: options.baseUrl,
    timeout: options.timeoutMs,
    headers: {
      accept: 'application/json',
      ...(options.apiKey ? { [apiKeyHeader(options.baseUrl)]: options.apiKey } : {}),
    },
    validateStatus: () => true,
    signal,
  });
  const throttle = pThrottle({ limit: options.ratePerMinute, interval: options.windowMs ?? 60_000, strict: true, signal });
  const send = throttle((path: string, params: Record<string, string | number>) => {
    stats.requests += 1;
    return http.get<unknown>(path, { params });
  });

  async function attempt(path: string, params: Record<string, string | number>): Promise<unknown> {
    let response: AxiosResponse<unknown>;
    try {
      response = await send(path, params);
    } catch (error) {
      if (signal.aborted) throw error;
      const timedOut = axios.isAxiosError(error) && (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT');
      const kind = timedOut ? 'timeout' : 'network';
      const unreachable = options.failFastOnConnectionErrors === true && axios.isAxiosError(error) && CONNECTION_ERRORS.has(error.code ?? '');
      throw new UpstreamError(`GET ${path}: ${kind} (${error instanceof Error ? error.message : String(error)})`, kind, !unreachable);
    }
    if (response.status === 200) {
      const problem = options.inspect?.(response.data, path);
      if (problem) throw problem;
      return response.data;
    }
    throw classify(response, path);
  }

  let rateLimitStreak = 0;

  async function get(path: string, params: Record<string, string | number> = {}): Promise<unknown> {
    return pRetry(() => attempt(path, params), {
      retries: options.retries,
      minTimeout: options.retryBaseMs,
      maxTimeout: options.retryBaseMs * 30,
      factor: 2,
      randomize: true,
      signal,
      shouldConsumeRetry: ({ error }) => !(error instanceof UpstreamError && error.kind === '429'),
      onFailedAttempt: async ({ error, attemptNumber }) => {
        const kind = error instanceof UpstreamError ? error.kind : 'error';
        stats.errors[kind] = (stats.errors[kind] ?? 0) + 1;
        logger.warn({ path, attempt: attemptNumber, error: error.message }, 'upstream request failed');
        if (error instanceof UpstreamError && error.kind === '429') {
          rateLimitStreak += 1;
          const backoff = options.retryBaseMs * 2 ** Math.min(rateLimitStreak - 1, 6) * (1 + Math.random());
          await sleep(error.retryAfterMs ?? backoff, signal);
        }
      },
      shouldRetry: ({ error }) => error instanceof UpstreamError && error.retryable,
    }).then((data) => {
      rateLimitStreak = 0;
      return data;
    });
  }

  return { get, stats };
}

export type Upstream = ReturnType<typeof createUpstream>;
