import type { Knex } from '@cryptoagg/db';
import {
  CONSENSUS_OUTLIER_THRESHOLD,
  CONSENSUS_SOURCES,
  CONSENSUS_SPREAD,
  gauge,
  SOURCE_CONSECUTIVE_FAILURES,
  SOURCE_LAST_RUN_QUOTES,
  SOURCE_LAST_RUN_SUCCESS,
  SOURCE_LAST_RUN_UPSTREAM_ERRORS,
  SOURCE_LAST_SUCCESS,
  timestampSeconds,
} from '@cryptoagg/metrics';
import type { Registry } from 'prom-client';
import { judge, type ConsensusOptions, type Evidence } from './consensus.js';
import { sourceRunStats, topCoinsEvidence, type SourceRunStats } from './sources.js';

/** Reads `load` once per scrape, however many gauges ask: the gauges' collect() calls share one query. */
function perScrape<T>(load: () => Promise<T>): () => Promise<T | undefined> {
  let pending: Promise<T | undefined> | undefined;
  return () => {
    pending ??= load()
      .catch(() => undefined)
      .finally(() => setTimeout(() => (pending = undefined), 1_000).unref());
    return pending;
  };
}

/**
 * The exchange sources' health and the consensus spread of the top coins, as gauges read at scrape time
 * from the durable records (the fetcher's CronJob pods live too briefly to be scraped): what the
 * CryptoaggSourceFailing and CryptoaggConsensusSpreadHigh alerts and the dashboard's source rows read.
 */
export function registerSourceMetrics(registry: Registry, db: Knex, options: ConsensusOptions & { currencies: readonly string[] }): void {
  const runs = perScrape(() => sourceRunStats(db));
  const bySource = (set: (s: SourceRunStats) => void) => async () => {
    for (const s of (await runs()) ?? []) set(s);
  };
  gauge(registry, SOURCE_LAST_SUCCESS, async (g) => {
    g.reset();
    await bySource((s) => g.set({ source: s.source }, timestampSeconds(s.last_success_at)))();
  });
  gauge(registry, SOURCE_LAST_RUN_SUCCESS, async (g) => {
    g.reset();
    await bySource((s) => {
      if (s.last_status !== null) g.set({ source: s.source }, s.last_status === 'succeeded' ? 1 : 0);
    })();
  });
  gauge(registry, SOURCE_CONSECUTIVE_FAILURES, async (g) => {
    g.reset();
    await bySource((s) => g.set({ source: s.source }, s.consecutive_failures))();
  });
  gauge(registry, SOURCE_LAST_RUN_QUOTES, async (g) => {
    g.reset();
    await bySource((s) => {
      g.set({ source: s.source, kind: 'listed' }, s.pairs_listed);
      g.set({ source: s.source, kind: 'stored' }, s.quotes_stored);
      g.set({ source: s.source, kind: 'skipped' }, s.items_skipped);
    })();
  });
  gauge(registry, SOURCE_LAST_RUN_UPSTREAM_ERRORS, async (g) => {
    g.reset();
    await bySource((s) => {
      for (const [status, count] of Object.entries(s.upstream_errors)) g.set({ source: s.source, status }, count);
    })();
  });

  const consensus = perScrape(async () => {
    const now = new Date();
    const evidence: Map<string, Evidence[]> = await topCoinsEvidence(db, options.currencies);
    return [...evidence].map(([key, quotes]) => {
      const [currency = '', coin = ''] = key.split(/:(.*)/s);
      return { coin, currency, value: judge(quotes, now, options).consensus };
    });
  });
  gauge(registry, CONSENSUS_SPREAD, async (g) => {
    g.reset();
    for (const c of (await consensus()) ?? []) if (c.value) g.set({ coin: c.coin, currency: c.currency }, c.value.spreadPct);
  });
  gauge(registry, CONSENSUS_SOURCES, async (g) => {
    g.reset();
    for (const c of (await consensus()) ?? []) g.set({ coin: c.coin, currency: c.currency }, c.value?.sourceCount ?? 0);
  });
  gauge(registry, CONSENSUS_OUTLIER_THRESHOLD, (g) => g.set(options.outlierPct));
}
