import { possibleId } from '@cryptoagg/graphql';
import type { Knex, SourceQuoteRow } from '@cryptoagg/db';
import { DATALOADER_BATCH_SIZE, histogram } from '@cryptoagg/metrics';
import DataLoader from 'dataloader';
import { COINGECKO, judge, type ConsensusOptions, type Evidence, type Judgement } from './consensus.js';
import type { Services } from './context.js';
import type { QuoteModel } from './models.js';

/** The SQL of the exchange sources' evidence and status (tables written by the fetcher's sources/store.ts). */

/** An exchange's newest quote of a coin in a currency, as cached (dates as ISO strings after a round trip). */
export interface SourceQuoteModel extends Pick<SourceQuoteRow, 'source' | 'pair' | 'coin_id' | 'currency' | 'price' | 'volume'> {
  time: Date | string;
}

async function latestSourceQuotes(db: Knex, currency: string, coinIds: readonly string[]): Promise<SourceQuoteModel[]> {
  return db('latest_source_quotes')
    .select<SourceQuoteModel[]>('source', 'pair', 'coin_id', 'currency', 'price', 'volume', 'time')
    .where('currency', currency)
    .whereIn('coin_id', [...coinIds]);
}

export interface SourceStatusModel {
  name: string;
  lastSuccessAt: Date | string | null;
  lastError: string | null;
}

/**
 * Each source the newest fetcher run read: CoinGecko (its runs are fetch_runs), then the exchanges that
 * run started (source_runs), each with its last success and the error of its latest finished attempt.
 */
export async function sourceStatuses(db: Knex): Promise<SourceStatusModel[]> {
  const { rows } = await db.raw<{ rows: SourceStatusModel[] }>(
    `select 'coingecko' as "name",
            (select max(finished_at) from fetch_runs where status = 'succeeded') as "lastSuccessAt",
            (select case when status = 'failed' then error end from fetch_runs where status <> 'running' order by id desc limit 1) as "lastError"
      where exists (select from fetch_runs)
     union all
     select s.source,
            (select max(finished_at) from source_runs r where r.source = s.source and r.status = 'succeeded'),
            (select case when r.status = 'failed' then r.error end from source_runs r
              where r.source = s.source and r.status <> 'running' order by r.id desc limit 1)
       from (select distinct source from source_runs where fetch_run_id = (select max(id) from fetch_runs)) s`,
  );
  return rows.sort((a, b) => Number(b.name === COINGECKO) - Number(a.name === COINGECKO) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The evidence of one quote: CoinGecko's own, then every exchange pair mapped to the coin and currency. */
function evidenceOf(quote: QuoteModel, exchanges: readonly SourceQuoteModel[]): Evidence[] {
  return [
    { source: COINGECKO, pair: quote.coin_id, price: quote.price, volume: null, fetchedAt: new Date(quote.fetched_at) },
    ...exchanges.map((e) => ({ source: e.source, pair: e.pair, price: e.price, volume: e.volume, fetchedAt: new Date(e.time) })),
  ];
}

/** One coin's exchange quotes in one currency. */
interface SourcesRef {
  currency: string;
  coinId: string;
}

const refKey = ({ currency, coinId }: SourcesRef) => `${currency}:${coinId}`;

/**
 * Like the quote loader: the `sources` / `consensus` fields of a page cost one cache MGET per currency and
 * at most one SQL query for what missed. Cached are the stored rows, never the judgement: staleness is
 * decided when asked, so a cached row still turns stale on time.
 */
export function createSourcesLoader(services: Services, keyPrefix: string): DataLoader<SourcesRef, SourceQuoteModel[], string> {
  const batchSizes = histogram(services.registry, DATALOADER_BATCH_SIZE);
  return new DataLoader<SourcesRef, SourceQuoteModel[], string>(
    async (refs) => {
      batchSizes.observe({ loader: 'sources' }, refs.length);
      const byCurrency = new Map<string, string[]>();
      for (const { currency, coinId } of refs) {
        if (!possibleId(coinId)) continue;
        byCurrency.set(currency, [...(byCurrency.get(currency) ?? []), coinId]);
      }
      const found = new Map<string, SourceQuoteModel[]>();
      await Promise.all(
        [...byCurrency].map(async ([currency, ids]) => {
          const values = await services.cache.getMany(
            ids,
            (coinId) => `${keyPrefix}sources:${refKey({ currency, coinId })}`,
            async (missing) => {
              const grouped = new Map<string, SourceQuoteModel[]>(missing.map((id) => [id, []]));
              for (const row of await latestSourceQuotes(services.db, currency, missing)) grouped.get(row.coin_id)?.push(row);
              return grouped;
            },
          );
          ids.forEach((coinId, i) => found.set(refKey({ currency, coinId }), values[i] ?? []));
        }),
      );
      return refs.map((ref) => found.get(refKey(ref)) ?? []);
    },
    { cacheKeyFn: refKey },
  );
}

/** A quote's judged evidence, judged once per request and quote (consensus and sources share it). */
export function createJudge(loader: DataLoader<SourcesRef, SourceQuoteModel[], string>, options: ConsensusOptions, now: Date) {
  const judged = new Map<string, Promise<Judgement>>();
  return (quote: QuoteModel): Promise<Judgement> => {
    const ref = { currency: quote.currency, coinId: quote.coin_id };
    const key = refKey(ref);
    let judgement = judged.get(key);
    if (!judgement) {
      judgement = loader.load(ref).then((rows) => judge(evidenceOf(quote, rows), now, options));
      judged.set(key, judgement);
    }
    return judgement;
  };
}

export interface SourceRunStats {
  source: string;
  last_success_at: Date | null;
  last_status: string | null;
  pairs_listed: number;
  quotes_stored: number;
  items_skipped: number;
  upstream_errors: Record<string, number>;
  consecutive_failures: number;
}

/** Each exchange source of the newest fetcher run, summarised from its durable run records for the metrics. */
export async function sourceRunStats(db: Knex): Promise<SourceRunStats[]> {
  const { rows } = await db.raw<{ rows: SourceRunStats[] }>(
    `select s.source,
            (select max(finished_at) from source_runs r where r.source = s.source and r.status = 'succeeded') as last_success_at,
            l.status as last_status, coalesce(l.pairs_listed, 0) as pairs_listed, coalesce(l.quotes_stored, 0) as quotes_stored,
            coalesce(l.items_skipped, 0) as items_skipped, coalesce(l.upstream_errors, '{}'::jsonb) as upstream_errors,
            (select count(*) from source_runs f where f.source = s.source and f.status = 'failed'
                and f.id > coalesce((select max(id) from source_runs g where g.source = s.source and g.status = 'succeeded'), 0))::int
              as consecutive_failures
       from (select distinct source from source_runs where fetch_run_id = (select max(id) from fetch_runs)) s
       left join lateral (select * from source_runs r where r.source = s.source and r.status <> 'running' order by r.id desc limit 1) l on true
      order by s.source`,
  );
  return rows;
}

/** How many of the best-ranked coins of each currency the consensus metrics cover. */
const CONSENSUS_METRIC_COINS = 20;

/**
 * The evidence of the consensus of the top coins (by market-cap rank, among those the newest run listed)
 * in each currency: CoinGecko's latest quote and every exchange quote, keyed `currency:coin`.
 */
export async function topCoinsEvidence(db: Knex, currencies: readonly string[]): Promise<Map<string, Evidence[]>> {
  const { rows } = await db.raw<{ rows: (SourceQuoteModel & { time: Date })[] }>(
    `with top as (
       select cur.currency, t.id as coin_id
         from unnest(?::text[]) as cur(currency)
        cross join lateral (
          select c.id from coins c join market_listings l on l.coin_id = c.id and l.currency = cur.currency
           order by c.market_cap_rank asc nulls last, c.id limit ?) t)
     select 'coingecko' as source, q.coin_id as pair, q.coin_id, q.currency, q.price, null::float8 as volume, q.fetched_at as time
       from top join latest_quotes q on q.coin_id = top.coin_id and q.currency = top.currency
     union all
     select s.source, s.pair, s.coin_id, s.currency, s.price, s.volume, s.time
       from top join latest_source_quotes s on s.coin_id = top.coin_id and s.currency = top.currency`,
    [currencies as unknown as Knex.RawBinding, CONSENSUS_METRIC_COINS],
  );
  const grouped = new Map<string, Evidence[]>();
  for (const row of rows) {
    const key = `${row.currency}:${row.coin_id}`;
    grouped.set(key, [
      ...(grouped.get(key) ?? []),
      { source: row.source, pair: row.pair, price: row.price, volume: row.volume, fetchedAt: new Date(row.time) },
    ]);
  }
  return grouped;
}
