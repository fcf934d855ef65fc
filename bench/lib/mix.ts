import { OPERATIONS } from '@cryptoagg/testkit';

/**
 * The mixed workload: a fixed, seeded sequence of contract operations whose
 * coins, currencies, history ranges and market pages follow a Zipf law, the
 * way real traffic concentrates on the top coins and the first page while
 * still reaching the long tail. Every target replays the same sequence.
 */

/** mulberry32: a small seeded PRNG, so every run and every target sees the same sequence. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks an index in [0, n) with probability proportional to 1 / (index + 1)^s. */
function zipf(n: number, s: number, random: () => number): () => number {
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 1; k <= n; k++) cumulative.push((total += 1 / k ** s));
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Picks a key by fixed weights. */
function weighted<K extends string>(weights: Record<K, number>, random: () => number): () => K {
  const entries = Object.entries(weights) as [K, number][];
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  return () => {
    let x = random() * total;
    for (const [key, w] of entries) if ((x -= w) < 0) return key;
    return entries[entries.length - 1]![0];
  };
}

export interface MixInput {
  /** coin ids by market-cap rank, most popular first */
  coins: readonly string[];
  /** currencies by popularity */
  currencies: readonly string[];
  /** per currency, the `after` cursor of each market page after the first (page 2 = index 0) */
  marketCursors: Readonly<Record<string, readonly string[]>>;
  /** search terms by popularity */
  searchTerms: readonly string[];
  /** the end of every history range (a fixed instant, so that repeated ranges are the same request) */
  historyTo: Date;
  seed?: number;
}

const MIX_WEIGHTS = { CoinDetail: 35, Markets: 25, CoinHistory: 25, SearchCoins: 10, FetchStatus: 5 } as const;
const HISTORY_RANGES = [
  { days: 1, interval: 'RAW', weight: 40 },
  { days: 7, interval: 'HOUR', weight: 30 },
  { days: 30, interval: 'HOUR', weight: 20 },
  { days: 365, interval: 'DAY', weight: 10 },
] as const;
export const MARKET_PAGE_SIZE = 50;

const body = (operationName: string, variables: Record<string, unknown>) => JSON.stringify({ query: OPERATIONS, operationName, variables });

/**
 * The mix as an endless stream: `next()` gives the following request body. `seen` counts the requests given and
 * the distinct ones among them (1 - distinct / requests is the best hit rate a cache starting empty could reach).
 */
export function mixedWorkload(input: MixInput): { next(): string; seen(): { requests: number; distinct: number; byOperation: Record<string, number> } } {
  const random = prng(input.seed ?? 20261203);
  const operation = weighted(MIX_WEIGHTS, random);
  const coin = zipf(input.coins.length, 1, random);
  const currency = zipf(input.currencies.length, 1, random);
  const term = zipf(input.searchTerms.length, 1, random);
  const page = Object.fromEntries(input.currencies.map((c) => [c, zipf((input.marketCursors[c]?.length ?? 0) + 1, 1, random)]));
  const range = weighted(Object.fromEntries(HISTORY_RANGES.map((r, i) => [String(i), r.weight])), random);
  const distinct = new Set<string>();
  const byOperation: Record<string, number> = {};
  let requests = 0;
  const make = (): string => {
    const op = operation();
    byOperation[op] = (byOperation[op] ?? 0) + 1;
    const cur = input.currencies[currency()]!;
    switch (op) {
      case 'CoinDetail':
        return body(op, { id: input.coins[coin()], currency: cur });
      case 'Markets': {
        const p = page[cur]!();
        return body(op, { currency: cur, first: MARKET_PAGE_SIZE, ...(p > 0 ? { after: input.marketCursors[cur]![p - 1] } : {}) });
      }
      case 'CoinHistory': {
        const r = HISTORY_RANGES[Number(range())]!;
        const from = new Date(input.historyTo.getTime() - r.days * 86_400_000);
        return body(op, { id: input.coins[coin()], currency: cur, from: from.toISOString(), to: input.historyTo.toISOString(), interval: r.interval });
      }
      case 'SearchCoins':
        return body(op, { search: input.searchTerms[term()], first: 20 });
      case 'FetchStatus':
        return body(op, {});
    }
  };
  return {
    next: () => {
      const b = make();
      requests++;
      distinct.add(b);
      return b;
    },
    seen: () => ({ requests, distinct: distinct.size, byOperation: { ...byOperation } }),
  };
}
