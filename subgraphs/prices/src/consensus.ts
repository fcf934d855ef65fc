/**
 * The consensus price and its evidence (CONTRACT section 8), computed at read time from each source's
 * newest quote of one coin in one currency: computing it on read costs a few comparisons per quote,
 * while storing it per run would go stale between runs (freshness depends on when it is asked).
 *
 * - A quote older than maxAgeSeconds (by when the fetcher received it) is stale and left out.
 * - Of several pairs of one exchange (BTC-USD and BTC-USDT), the one with the larger 24 h volume is the
 *   exchange's candidate (a pair without a volume counts as none; equal volumes go to the first pair
 *   in alphabetical order).
 * - A fresh quote further than outlierPct percent from the median of the candidates is an outlier, and
 *   a candidate that is one is left out. When that would leave out every candidate (two sources far
 *   apart: each is as far from their mean), none is left out: the spread then shows the disagreement.
 * - price = the median of the counted candidates (the mean of the two middle values for an even count),
 *   spreadPct = (max - min) / price x 100 over them, sourceCount = how many, outliers = the sources
 *   left out as outliers in alphabetical order. No fresh source: no consensus (null).
 */

export interface ConsensusOptions {
  maxAgeSeconds: number;
  outlierPct: number;
}

/** One source's quote of a coin in a currency, its price already in that currency. */
export interface Evidence {
  source: string;
  pair: string;
  price: number;
  volume: number | null;
  fetchedAt: Date;
}

interface JudgedQuote extends Evidence {
  stale: boolean;
  outlier: boolean;
}

interface ConsensusValue {
  price: number;
  sourceCount: number;
  spreadPct: number;
  outliers: string[];
  computedAt: Date;
}

export interface Judgement {
  /** CoinGecko first, then by source and pair */
  sources: JudgedQuote[];
  consensus: ConsensusValue | null;
}

export const COINGECKO = 'coingecko';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle] as number;
  return ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const bySourceAndPair = (a: Evidence, b: Evidence) =>
  Number(b.source === COINGECKO) - Number(a.source === COINGECKO) ||
  (a.source < b.source ? -1 : a.source > b.source ? 1 : 0) ||
  (a.pair < b.pair ? -1 : a.pair > b.pair ? 1 : 0);

export function judge(evidence: readonly Evidence[], now: Date, options: ConsensusOptions): Judgement {
  const sorted = [...evidence].sort(bySourceAndPair);
  const maxAgeMs = options.maxAgeSeconds * 1_000;
  const fresh = sorted.filter((e) => now.getTime() - e.fetchedAt.getTime() <= maxAgeMs);

  // One candidate per source: the pair with the larger volume (sorted by pair, so ties keep the first).
  const candidates = new Map<string, Evidence>();
  for (const e of fresh) {
    const held = candidates.get(e.source);
    if (!held || (e.volume ?? -1) > (held.volume ?? -1)) candidates.set(e.source, e);
  }
  const chosen = [...candidates.values()];
  const reference = chosen.length > 0 ? median(chosen.map((e) => e.price)) : 0;
  const far = (e: Evidence) => (Math.abs(e.price - reference) / reference) * 100 > options.outlierPct;
  const anyNear = chosen.some((e) => !far(e));
  const isOutlier = (e: Evidence) => chosen.length > 0 && anyNear && fresh.includes(e) && far(e);

  const sources = sorted.map((e): JudgedQuote => ({ ...e, stale: !fresh.includes(e), outlier: isOutlier(e) }));
  if (chosen.length === 0) return { sources, consensus: null };
  const counted = chosen.filter((e) => !isOutlier(e));
  const prices = counted.map((e) => e.price);
  const price = median(prices);
  return {
    sources,
    consensus: {
      price,
      sourceCount: counted.length,
      spreadPct: ((Math.max(...prices) - Math.min(...prices)) / price) * 100,
      outliers: chosen
        .filter(isOutlier)
        .map((e) => e.source)
        .sort(),
      computedAt: now,
    },
  };
}
