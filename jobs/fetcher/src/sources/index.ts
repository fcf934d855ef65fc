import type { Logger } from '@cryptoagg/core';
import type { ExchangeSourceName, Knex } from '@cryptoagg/db';
import type { FetcherConfig } from '../config.js';
import { bumpDataVersion } from '../signal.js';
import { createUpstream } from '../upstream/client.js';
import { binance } from './binance.js';
import { coinbase } from './coinbase.js';
import { kraken } from './kraken.js';
import { createMapping, selectPairs, toRows } from './mapping.js';
import {
  dropSourceQuotePartitionsBefore,
  failAbandonedSourceRuns,
  failSourceRun,
  loadMappingInputs,
  startSourceRuns,
  writeSourceQuotes,
  type SourceRunCounts,
} from './store.js';
import { SourceTally, type AdapterContext, type ExchangeAdapter } from './types.js';

const ADAPTERS: Readonly<Record<ExchangeSourceName, ExchangeAdapter>> = { binance, coinbase, kraken };

/** One source's part of a run, as logged and returned with the run's result. */
export interface SourceResult {
  source: ExchangeSourceName;
  status: 'succeeded' | 'failed';
  pairsListed: number;
  quotesStored: number;
  itemsSkipped: number;
  /** pairs left out as not trading (halted at 0, not online, trading disabled) */
  notTrading: number;
  requests: number;
  upstreamErrors: Record<string, number>;
  error?: string;
  durationMs: number;
}

export interface SourcesDeps {
  config: FetcherConfig;
  db: Knex;
  logger: Logger;
  /** the run's signal (its deadline, its lock, SIGTERM): stops every source */
  signal: AbortSignal;
  fetchRunId: number;
  /** settles once the CoinGecko part of the run has stored its data or failed: the mapping reads what it stored */
  coingecko: Promise<unknown>;
  /** shrinks every adapter's rate window (tests prove the limits without waiting) */
  rateWindowMs?: number;
}

class SourceDeadline extends Error {
  override readonly name = 'SourceDeadline';
}

/**
 * The source's time budget for its own requests (EXCHANGE_DEADLINE_SECONDS): spent across its steps,
 * not while it waits for the CoinGecko part, which it does not control. Overrunning it aborts the
 * source's client, and with it every request in flight or queued behind its rate limiter.
 */
function budget(ms: number, controller: AbortController) {
  let left = ms;
  return async <T>(step: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const timer = setTimeout(() => controller.abort(new SourceDeadline(`deadline of ${ms / 1000}s exceeded`)), left);
    try {
      return await step();
    } finally {
      clearTimeout(timer);
      left = Math.max(0, left - (Date.now() - started));
    }
  };
}

/** Resolves with `promise`, or rejects when `signal` aborts first. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function readSource(deps: SourcesDeps, adapter: ExchangeAdapter, runId: number): Promise<SourceResult> {
  const { config, db, signal: run } = deps;
  const started = Date.now();
  const logger = deps.logger.child({ source: adapter.name });
  const controller = new AbortController();
  const stop = () => controller.abort(run.reason);
  run.addEventListener('abort', stop, { once: true });
  if (run.aborted) stop();
  const spend = budget(config.exchanges.deadlineMs, controller);
  const tally = new SourceTally();
  const http = createUpstream({
    baseUrl: config.exchanges.baseUrls[adapter.name],
    ratePerMinute: adapter.rate.limit,
    windowMs: deps.rateWindowMs ?? adapter.rate.windowMs,
    timeoutMs: config.requestTimeoutMs,
    retries: config.retries,
    retryBaseMs: config.retryBaseMs,
    signal: controller.signal,
    logger,
    failFastOnConnectionErrors: true,
    ...(adapter.inspect ? { inspect: adapter.inspect } : {}),
  });
  const ctx: AdapterContext = { http, tally, signal: controller.signal };
  let pairsListed = 0;
  const counts = (): SourceRunCounts => ({
    requests: http.stats.requests,
    pairs_listed: pairsListed,
    items_skipped: tally.skipped,
    upstream_errors: http.stats.errors,
  });
  const result = (status: SourceResult['status'], quotesStored: number, error?: string): SourceResult => ({
    source: adapter.name,
    status,
    pairsListed,
    quotesStored,
    itemsSkipped: tally.skipped,
    notTrading: tally.notTrading,
    requests: http.stats.requests,
    upstreamErrors: { ...http.stats.errors },
    ...(error === undefined ? {} : { error }),
    durationMs: Date.now() - started,
  });
  const publish = async (version: number) => {
    if (!config.redisUrl) return;
    await bumpDataVersion(config.redisUrl, config.redisKeyPrefix, version).catch((error: unknown) =>
      logger.warn({ error: message(error) }, 'could not publish the data version to Redis; the subgraphs learn it through Postgres NOTIFY'),
    );
  };
  try {
    const pairs = await spend(() => adapter.listPairs(ctx));
    pairsListed = pairs.length;
    await unlessAborted(deps.coingecko, controller.signal);
    const mapping = createMapping(adapter.name, await loadMappingInputs(db, config.currencies));
    const wanted = selectPairs(mapping, pairs, config.currencies);
    const tickers = await spend(() =>
      adapter.fetchTickers(
        ctx,
        wanted.map((m) => m.listing),
      ),
    );
    controller.signal.throwIfAborted();
    const rows = toRows(adapter.name, wanted, tickers, new Date());
    const version = await writeSourceQuotes(db, { runId, source: adapter.name, rows, counts: counts() });
    await publish(version);
    const done = result('succeeded', rows.length);
    logger.info({ result: done, skipped: tally.reasons }, 'source succeeded');
    return done;
  } catch (error) {
    const reason: unknown = controller.signal.reason;
    const why = controller.signal.aborted ? (reason instanceof SourceDeadline ? reason.message : `aborted: ${message(reason)}`) : message(error);
    const version = await failSourceRun(db, runId, why, counts()).catch((e: unknown) => {
      logger.error({ error: message(e) }, 'could not record the failed source run');
      return undefined;
    });
    if (version !== undefined) await publish(version);
    const failed = result('failed', 0, why);
    logger.warn({ result: failed, skipped: tally.reasons }, 'source failed');
    return failed;
  } finally {
    run.removeEventListener('abort', stop);
  }
}

/**
 * Reads every configured exchange source at once, beside the CoinGecko part of the run: each lists its
 * pairs straight away, waits for the CoinGecko part to store the coins and stablecoin prices its
 * mapping reads, fetches the tickers it wants, and commits its quotes and run record on its own. Each
 * has its own client (rate limit, retries, timeouts), its own budget and its own run record, so a
 * failing or hanging source never fails or delays another or the CoinGecko part. Never rejects.
 */
export async function readExchangeSources(deps: SourcesDeps): Promise<SourceResult[]> {
  const { sources } = deps.config.exchanges;
  if (sources.length === 0) return [];
  let ids: Map<ExchangeSourceName, number>;
  try {
    const abandoned = await failAbandonedSourceRuns(deps.db);
    if (abandoned > 0) deps.logger.warn({ abandoned }, 'marked source runs left running by a stopped fetcher as failed');
    ids = await startSourceRuns(deps.db, deps.fetchRunId, sources);
  } catch (error) {
    deps.logger.error({ error: message(error) }, 'could not start the exchange sources');
    return sources.map((source) => ({
      source,
      status: 'failed',
      pairsListed: 0,
      quotesStored: 0,
      itemsSkipped: 0,
      notTrading: 0,
      requests: 0,
      upstreamErrors: {},
      error: message(error),
      durationMs: 0,
    }));
  }
  const results = await Promise.all(sources.map((source) => readSource(deps, ADAPTERS[source], ids.get(source) ?? 0)));
  // The history is kept as long as the raw snapshots (RETENTION_RAW_DAYS); best effort, the next run tries again.
  await dropSourceQuotePartitionsBefore(deps.db, new Date(Date.now() - deps.config.retentionRawDays * 86_400_000)).then(
    (dropped) => dropped.length > 0 && deps.logger.info({ dropped }, 'dropped source quote partitions past the retention'),
    (error: unknown) => deps.logger.warn({ error: message(error) }, 'could not drop old source quote partitions'),
  );
  return results;
}
