import { redactUrls, type Logger } from '@cryptoagg/core';
import type { Knex, QuoteRow } from '@cryptoagg/db';
import type { FetcherConfig } from './config.js';
import { retainAfterRun } from './retention.js';
import { bumpDataVersion } from './signal.js';
import { readExchangeSources, type SourceResult } from './sources/index.js';
import {
  acquireRunLock,
  ensurePartitions,
  failAbandonedRuns,
  failRun,
  pickMetadataCandidates,
  recordMetadataFailures,
  startRun,
  writeRun,
  type CoinUpsert,
  type RunCounts,
  type RunLock,
} from './store.js';
import { createUpstream, UpstreamError, type Upstream } from './upstream/client.js';
import { coinDetailSchema, describeIssues, marketItemSchema, type CoinMetadata, type MarketItem } from './upstream/schemas.js';
import { snapshotWindow } from './window.js';

const PAGE_SIZE = 250;
/** Skipped items are logged one by one up to this many per run, then only counted. */
const MAX_SKIP_LOGS = 20;
/** A skipped item's id can be anything the upstream sent: logs quote only its start. */
const MAX_LOGGED_ID = 64;

export interface RunResult {
  runId: number;
  coinsUpdated: number;
  snapshotsInserted: number;
  itemsReceived: number;
  itemsSkipped: number;
  metadataUpdated: number;
  metadataSkipped: number;
  requests: number;
  upstreamErrors: Record<string, number>;
  durationMs: number;
  /** the exchange sources read beside CoinGecko (EXCHANGE_SOURCES), each succeeded or failed on its own */
  sources: SourceResult[];
}

/** A run that failed and was recorded (and logged) as failed. */
export class FetchRunFailed extends Error {
  override readonly name = 'FetchRunFailed';
}

export interface RunDeps {
  config: FetcherConfig;
  db: Knex;
  databaseUrl: string;
  logger: Logger;
  /** aborts the run (SIGTERM); the deadline is added here */
  signal?: AbortSignal;
  /** the rate limiter's window; tests shrink it to prove the limit without waiting minutes */
  rateWindowMs?: number;
}

class Tally {
  received = 0;
  skipped = 0;
  metadataUpdated = 0;
  metadataSkipped = 0;
  private logged = 0;

  constructor(private readonly logger: Logger) {}

  skip(what: string, id: unknown, reason: string): void {
    if (this.logged < MAX_SKIP_LOGS) {
      const shown = typeof id === 'string' && id.length > MAX_LOGGED_ID ? `${id.slice(0, MAX_LOGGED_ID)}... (${id.length} characters)` : id;
      this.logger.warn({ id: shown, reason }, `skipped ${what}`);
    }
    this.logged += 1;
  }
}

/** A validated market item as the coin row the run upserts. */
export const coinFromItem = (item: MarketItem): CoinUpsert => ({
  id: item.id,
  symbol: item.symbol,
  name: item.name,
  image: item.image,
  market_cap_rank: item.market_cap_rank,
});

/** A validated market item as the snapshot (and latest quote) the run stores: the upstream's numbers unchanged. */
export const quoteFromItem = (item: MarketItem, currency: string, fetchedAt: Date): QuoteRow => ({
  coin_id: item.id,
  currency,
  last_updated: new Date(item.last_updated),
  fetched_at: fetchedAt,
  price: item.current_price,
  market_cap: item.market_cap,
  total_volume: item.total_volume,
  high_24h: item.high_24h,
  low_24h: item.low_24h,
  price_change_24h: item.price_change_24h,
  price_change_percentage_24h: item.price_change_percentage_24h,
  circulating_supply: item.circulating_supply,
});

/**
 * The items at positions 1..maxCoins of the upstream's market-cap order, across pages: the run's
 * listing in this currency. A skipped item keeps its position (coin maxCoins + 1 does not move up into
 * the listing in its place), so the listing is the upstream's top N minus what could not be stored.
 */
async function fetchCurrency(upstream: Upstream, currency: string, maxCoins: number, tally: Tally) {
  const coins: CoinUpsert[] = [];
  const quotes: QuoteRow[] = [];
  const seen = new Set<string>();
  let position = 0;
  for (let page = 1; position < maxCoins; page += 1) {
    const data = await upstream.get('/coins/markets', {
      vs_currency: currency,
      order: 'market_cap_desc',
      per_page: PAGE_SIZE,
      page,
      sparkline: 'false',
      price_change_percentage: '24h',
    });
    const fetchedAt = new Date();
    if (!Array.isArray(data)) throw new UpstreamError(`/coins/markets page ${page}: not a JSON array`, 'invalid', false);
    for (const raw of data) {
      position += 1;
      if (position > maxCoins) break;
      tally.received += 1;
      const parsed = marketItemSchema.safeParse(raw);
      if (!parsed.success) {
        tally.skipped += 1;
        tally.skip('market item', (raw as { id?: unknown } | null)?.id, `${currency}: ${describeIssues(parsed.error)}`);
        continue;
      }
      const item = parsed.data;
      // Ranks shift while we page, so an item can show up on two pages: keep the first; the second's position stays used.
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      coins.push(coinFromItem(item));
      quotes.push(quoteFromItem(item, currency, fetchedAt));
    }
    if (data.length < PAGE_SIZE) break;
  }
  return { coins, quotes };
}

/** The metadata records fetched, and the ids whose record was refused by the upstream or could not be stored. */
async function fetchMetadata(upstream: Upstream, ids: string[], tally: Tally, signal: AbortSignal): Promise<{ found: CoinMetadata[]; failed: string[] }> {
  const found: CoinMetadata[] = [];
  const failed: string[] = [];
  for (const id of ids) {
    try {
      const data = await upstream.get(`/coins/${encodeURIComponent(id)}`, {
        localization: 'false',
        tickers: 'false',
        market_data: 'false',
        community_data: 'false',
        developer_data: 'false',
        sparkline: 'false',
      });
      const parsed = coinDetailSchema.safeParse(data);
      if (parsed.success && parsed.data.id === id) {
        found.push(parsed.data);
        continue;
      }
      tally.skip('coin metadata', id, parsed.success ? `answer is for ${parsed.data.id}` : describeIssues(parsed.error));
    } catch (error) {
      // The deadline or a shutdown ends the run; any other failure costs only this coin's metadata.
      if (signal.aborted) throw error;
      tally.skip('coin metadata', id, error instanceof Error ? error.message : String(error));
    }
    tally.metadataSkipped += 1;
    failed.push(id);
  }
  tally.metadataUpdated = found.length;
  return { found, failed };
}

/**
 * Keeps the quotes inside the run's snapshot window (window.ts) and the coins
 * that still have one; the rest are skipped and counted like malformed items.
 */
function keepWithinWindow(coins: Map<string, CoinUpsert>, quotes: QuoteRow[], tally: Tally): QuoteRow[] {
  const window = snapshotWindow(quotes.reduce((newest, q) => Math.max(newest, q.last_updated.getTime()), -Infinity));
  const kept = quotes.filter((q) => {
    if (q.last_updated.getTime() >= window.from) return true;
    tally.skipped += 1;
    tally.skip(
      'market item',
      q.coin_id,
      `${q.currency}: last_updated: ${q.last_updated.toISOString()} is before this run's window (from ${new Date(window.from).toISOString()})`,
    );
    return false;
  });
  const quoted = new Set(kept.map((q) => q.coin_id));
  for (const id of coins.keys()) if (!quoted.has(id)) coins.delete(id);
  return kept;
}

function describeFailure(error: unknown, signal: AbortSignal, deadlineMs: number): string {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof Error && reason.name === 'TimeoutError') return `deadline of ${deadlineMs / 1000}s exceeded`;
    return `aborted: ${reason instanceof Error ? reason.message : String(reason)}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * One fetcher run: pull markets for every configured currency and metadata
 * for a bounded number of coins, validate every item, and store the lot in one
 * transaction. Throws on failure, after recording the failed run.
 */
export async function runFetch({ config, db, databaseUrl, logger, signal: outer, rateWindowMs }: RunDeps): Promise<RunResult> {
  let lock: RunLock;
  try {
    lock = await acquireRunLock(databaseUrl, { waitMs: config.lockWaitMs, signal: outer });
  } catch (error) {
    const message = outer?.aborted
      ? `aborted while waiting for the run lock: ${outer.reason instanceof Error ? outer.reason.message : String(outer.reason)}`
      : redactUrls(error instanceof Error ? error.message : String(error));
    logger.error({ error: message }, 'fetch run failed');
    throw new FetchRunFailed(message, { cause: error });
  }
  // The run's time counts from here: a run that waited for another's lock gets its whole deadline.
  const started = Date.now();
  const deadline = AbortSignal.timeout(config.deadlineMs);
  const signal = AbortSignal.any([deadline, lock.lost, ...(outer ? [outer] : [])]);
  let runId: number | undefined;
  const tally = new Tally(logger);
  const upstream = createUpstream({
    baseUrl: config.coingeckoBaseUrl,
    apiKey: config.coingeckoApiKey,
    ratePerMinute: config.ratePerMinute,
    timeoutMs: config.requestTimeoutMs,
    retries: config.retries,
    retryBaseMs: config.retryBaseMs,
    signal,
    logger,
    ...(rateWindowMs ? { windowMs: rateWindowMs } : {}),
  });
  const counts = (): Omit<RunCounts, 'snapshots_inserted' | 'coins_updated'> => ({
    requests: upstream.stats.requests,
    items_received: tally.received,
    items_skipped: tally.skipped,
    metadata_updated: tally.metadataUpdated,
    metadata_skipped: tally.metadataSkipped,
    upstream_errors: upstream.stats.errors,
  });
  // The exchange sources run beside the CoinGecko part and wait for it only to map their pairs (sources/index.ts).
  let sources: Promise<SourceResult[]> = Promise.resolve([]);
  let coingeckoSettled = (): void => undefined;
  try {
    const abandoned = await failAbandonedRuns(db);
    if (abandoned > 0) logger.warn({ abandoned }, 'marked runs left running by a stopped fetcher as failed');
    runId = await startRun(db, config.currencies);
    const coingecko = new Promise<void>((resolve) => (coingeckoSettled = resolve));
    sources = readExchangeSources({ config, db, logger, signal, fetchRunId: runId, coingecko, ...(rateWindowMs ? { rateWindowMs } : {}) });

    const coins = new Map<string, CoinUpsert>();
    const fetched: QuoteRow[] = [];
    for (const currency of config.currencies) {
      const result = await fetchCurrency(upstream, currency, config.maxCoins, tally);
      for (const coin of result.coins) if (!coins.has(coin.id)) coins.set(coin.id, coin);
      fetched.push(...result.quotes);
      // Progress, one line per step: a first run under a tight rate limit can take a while.
      logger.info(
        { currency, coins: result.quotes.length, requests: upstream.stats.requests },
        `fetched ${currency} markets (${config.currencies.indexOf(currency) + 1}/${config.currencies.length})`,
      );
    }
    if (fetched.length === 0) throw new Error('the upstream returned no valid market items');
    const quotes = keepWithinWindow(coins, fetched, tally);

    const candidates = await pickMetadataCandidates(db, [...coins.keys()], config.metadataPerRun, config.metadataMaxAgeHours);
    if (candidates.length > 0) logger.info({ coins: candidates.length }, `fetching metadata of ${candidates.length} coin(s)`);
    const metadata = await fetchMetadata(upstream, candidates, tally, signal);
    signal.throwIfAborted();

    const times = quotes.map((q) => q.last_updated.getTime());
    await ensurePartitions(db, new Date(Math.min(...times)), new Date(Math.max(...times)));
    const stored = await writeRun(db, { runId, coins: [...coins.values()], quotes, metadata: metadata.found, counts: counts(), signal });
    coingeckoSettled();
    // After the commit, when every coin has its row; lost in a crash just before, it costs one more try of those coins.
    await recordMetadataFailures(db, metadata.failed).catch((error: unknown) =>
      logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'could not record the failed metadata refreshes'),
    );

    if (config.redisUrl) {
      await bumpDataVersion(config.redisUrl, config.redisKeyPrefix, runId).catch((error: unknown) =>
        logger.warn(
          { error: error instanceof Error ? error.message : String(error) },
          'could not publish the data version to Redis; the subgraphs learn it through Postgres NOTIFY, the gateway from them',
        ),
      );
    }
    const result: RunResult = {
      runId,
      coinsUpdated: stored.coinsUpdated,
      snapshotsInserted: stored.snapshotsInserted,
      itemsReceived: tally.received,
      itemsSkipped: tally.skipped,
      metadataUpdated: tally.metadataUpdated,
      metadataSkipped: tally.metadataSkipped,
      requests: upstream.stats.requests,
      upstreamErrors: upstream.stats.errors,
      sources: await sources,
      durationMs: Date.now() - started,
    };
    logger.info({ run: result }, 'fetch run succeeded');
    await retainAfterRun(db, { rawDays: config.retentionRawDays, hourlyDays: config.retentionHourlyDays }, logger);
    return result;
  } catch (error) {
    const message = describeFailure(error, signal, config.deadlineMs);
    if (runId !== undefined) {
      await failRun(db, runId, message, counts()).catch((e: unknown) => logger.error({ err: e }, 'could not record the failed run'));
    }
    // The sources map with what earlier runs stored: a price while CoinGecko is down.
    coingeckoSettled();
    const sourceResults = await sources;
    logger.error({ runId, error: message, ...counts(), sources: sourceResults, durationMs: Date.now() - started }, 'fetch run failed');
    throw new FetchRunFailed(message, { cause: error });
  } finally {
    await lock.release();
  }
}
