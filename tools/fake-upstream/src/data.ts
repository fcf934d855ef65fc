import { readFileSync } from 'node:fs';
import { z } from 'zod';

export interface Roi {
  times: number;
  currency: string;
  percentage: number;
}

/** One `/coins/markets` item, keys in upstream order. */
export interface MarketItem {
  id: string;
  symbol: string;
  name: string;
  image: string;
  current_price: number;
  market_cap: number;
  market_cap_rank: number | null;
  fully_diluted_valuation: number | null;
  total_volume: number | null;
  high_24h: number | null;
  low_24h: number | null;
  price_change_24h: number | null;
  price_change_percentage_24h: number | null;
  market_cap_change_24h: number | null;
  market_cap_change_percentage_24h: number | null;
  circulating_supply: number;
  total_supply: number | null;
  max_supply: number | null;
  ath: number;
  ath_change_percentage: number;
  ath_date: string;
  atl: number;
  atl_change_percentage: number;
  atl_date: string;
  roi: Roi | null;
  last_updated: string;
  /** only present when the request asked for price_change_percentage=24h */
  price_change_percentage_24h_in_currency?: number | null;
}

/** `/coins/{id}` body as served with localization/tickers/market_data/community_data/developer_data=false. */
export interface CoinDetail {
  id: string;
  symbol: string;
  name: string;
  web_slug: string;
  asset_platform_id: string | null;
  platforms: Record<string, string>;
  detail_platforms: Record<string, { decimal_place: number | null; contract_address: string }>;
  block_time_in_minutes: number | null;
  hashing_algorithm: string | null;
  categories: (string | null)[];
  preview_listing: boolean;
  public_notice: string | null;
  additional_notices: string[];
  description: { en: string };
  links: {
    homepage: string[];
    whitepaper: string;
    blockchain_site: string[];
    official_forum_url: string[];
    chat_url: string[];
    announcement_url: string[];
    snapshot_url: string | null;
    twitter_screen_name: string;
    facebook_username: string;
    bitcointalk_thread_identifier: number | null;
    telegram_channel_identifier: string;
    subreddit_url: string | null;
    repos_url: { github: string[]; bitbucket: string[] };
  };
  image: { thumb: string; small: string; large: string };
  country_origin: string;
  genesis_date: string | null;
  sentiment_votes_up_percentage: number | null;
  sentiment_votes_down_percentage: number | null;
  watchlist_portfolio_users: number;
  market_cap_rank: number | null;
  last_updated: string;
}

export interface MarketChart {
  prices: [number, number][];
  market_caps: [number, number][];
  total_volumes: [number, number][];
}

/** Coin ids carrying the traps; see README.md. */
export const TRAPS = {
  tinyPrice: 'tiny-price-token', // replaces cat-in-a-dogs-world (#249): 1.234e-05 / -6.0e-05 in the raw text
  stale: 'resolv-wstusr', // already stale in the real sample: null 24h fields, last_updated 2025-01-28
  unranked: 'ousg', // market_cap_rank null
  swappedRanks: ['cardano', 'tron'] as const, // served 10th/11th with ranks 11/10
  spacedId: '1move token', // replaces wemix-token (#244)
  nullCategory: 'dogecoin', // categories contains a null entry in /coins/{id}
};

const num = z.number();
const nnum = z.number().nullable();
const sampleSchema = z.array(
  z.object({
    id: z.string(),
    symbol: z.string(),
    name: z.string(),
    image: z.string(),
    current_price: num,
    market_cap: num,
    market_cap_rank: nnum,
    fully_diluted_valuation: nnum,
    total_volume: nnum,
    high_24h: nnum,
    low_24h: nnum,
    price_change_24h: nnum,
    price_change_percentage_24h: nnum,
    market_cap_change_24h: nnum,
    market_cap_change_percentage_24h: nnum,
    circulating_supply: num,
    total_supply: nnum,
    max_supply: nnum,
    ath: num,
    ath_change_percentage: num,
    ath_date: z.string(),
    atl: num,
    atl_change_percentage: num,
    atl_date: z.string(),
    roi: z.object({ times: num, currency: z.string(), percentage: num }).nullable(),
    last_updated: z.string(),
    price_change_percentage_24h_in_currency: nnum,
  }),
);

const SAMPLE: MarketItem[] = sampleSchema.parse(JSON.parse(readFileSync(new URL('../data/markets_usd_2025-02-09.json', import.meta.url), 'utf8')));

const FIVE_MINUTES = 5 * 60_000;
const HOUR = 3_600_000;
const FIAT_RATES: Record<string, number> = { usd: 1, eur: 0.92, gbp: 0.8, jpy: 151.5 };
export const SUPPORTED_CURRENCIES = [...Object.keys(FIAT_RATES), 'btc'];

/** FNV-1a mapped to [0,1): stable pseudo-randomness keyed by coin id. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  // murmur3's finaliser: plain FNV barely differs for keys that differ only in the last char
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}
const round = (v: number, digits: number): number => Number(v.toFixed(digits));
const sig = (v: number): number => Number(v.toPrecision(6));

function find(coins: MarketItem[], id: string): MarketItem {
  const coin = coins.find((c) => c.id === id);
  if (!coin) throw new Error(`market sample lacks ${id}`);
  return coin;
}

function withTraps(sample: MarketItem[]): MarketItem[] {
  const coins = sample.map((c) => ({ ...c }));
  Object.assign(find(coins, 'cat-in-a-dogs-world'), {
    id: TRAPS.tinyPrice,
    symbol: 'tiny',
    name: 'Tiny Price Token',
    image: 'https://coin-images.coingecko.com/coins/images/99001/large/tiny.png?1700000000',
    current_price: 0.00001234,
    market_cap: 266544000,
    fully_diluted_valuation: 266544000,
    total_volume: 48213.37,
    high_24h: 0.0000734,
    low_24h: 0.0000121,
    price_change_24h: -0.00006,
    price_change_percentage_24h: -82.94166,
    market_cap_change_24h: -1296000000,
    market_cap_change_percentage_24h: -82.94166,
    circulating_supply: 21600000000000,
    total_supply: 21600000000000,
    max_supply: 21600000000000,
    ath: 0.00009876,
    ath_change_percentage: -87.50506,
    ath_date: '2024-12-05T11:02:41.120Z',
    atl: 0.00000987,
    atl_change_percentage: 25.02533,
    atl_date: '2024-08-05T00:00:00.000Z',
    roi: null,
    price_change_percentage_24h_in_currency: -82.941658833287,
  } satisfies Partial<MarketItem>);
  Object.assign(find(coins, TRAPS.stale), {
    high_24h: null,
    low_24h: null,
    price_change_24h: null,
    price_change_percentage_24h: null,
    market_cap_change_24h: null,
    market_cap_change_percentage_24h: null,
    price_change_percentage_24h_in_currency: null,
  } satisfies Partial<MarketItem>);
  find(coins, TRAPS.unranked).market_cap_rank = null;
  const [a, b] = TRAPS.swappedRanks.map((id) => find(coins, id));
  if (a && b) [a.market_cap_rank, b.market_cap_rank] = [b.market_cap_rank, a.market_cap_rank];
  Object.assign(find(coins, 'wemix-token'), {
    id: TRAPS.spacedId,
    symbol: '1mt',
    name: '1Move Token',
    image: 'https://coin-images.coingecko.com/coins/images/99002/large/1move.png?1700000000',
  } satisfies Partial<MarketItem>);
  return coins;
}

function synthesize(n: number, last: MarketItem, lastUpdatedMs: number): MarketItem {
  const id = `synthetic-coin-${n}`;
  const h = (salt: string): number => hash(`${id}:${salt}`);
  const price = sig(10 ** (h('price') * 6 - 4));
  const marketCap = Math.round(last.market_cap * 0.998 ** (n - 250));
  const circulating = round(marketCap / price, 2);
  const total = round(circulating * (1 + h('supply')), 2);
  const pct = round(h('pct') * 20 - 10, 5);
  const previous = price / (1 + pct / 100);
  const ath = sig(price * (2 + h('ath') * 20));
  const atl = sig(price * (0.05 + h('atl') * 0.5));
  return {
    id,
    symbol: `syn${n}`,
    name: `Synthetic Coin ${n}`,
    image: `https://coin-images.coingecko.com/coins/images/${100000 + n}/large/${id}.png?1700000000`,
    current_price: price,
    market_cap: marketCap,
    market_cap_rank: n,
    fully_diluted_valuation: Math.round(total * price),
    total_volume: Math.round(marketCap * (0.01 + h('vol') * 0.1)),
    high_24h: sig(Math.max(price, previous) * 1.01),
    low_24h: sig(Math.min(price, previous) * 0.99),
    price_change_24h: price - previous,
    price_change_percentage_24h: pct,
    market_cap_change_24h: round((marketCap * pct) / 100, 2),
    market_cap_change_percentage_24h: pct,
    circulating_supply: circulating,
    total_supply: total,
    max_supply: n % 3 === 0 ? null : total,
    ath,
    ath_change_percentage: round((price / ath - 1) * 100, 5),
    ath_date: '2021-11-10T14:24:11.849Z',
    atl,
    atl_change_percentage: round((price / atl - 1) * 100, 5),
    atl_date: '2020-03-13T02:22:55.044Z',
    roi: null,
    last_updated: new Date(lastUpdatedMs - Math.floor(h('age') * 10_000)).toISOString(),
    price_change_percentage_24h_in_currency: pct + h('pct2') * 1e-4,
  };
}

/** Rebuilds an item in upstream key order with every price-like field passed through `conv`. */
function convert(c: MarketItem, conv: (v: number) => number, lastUpdated: string, pct24: boolean): MarketItem {
  const n = (v: number | null): number | null => (v === null ? null : conv(v));
  return {
    id: c.id,
    symbol: c.symbol,
    name: c.name,
    image: c.image,
    current_price: conv(c.current_price),
    market_cap: conv(c.market_cap),
    market_cap_rank: c.market_cap_rank,
    fully_diluted_valuation: n(c.fully_diluted_valuation),
    total_volume: n(c.total_volume),
    high_24h: n(c.high_24h),
    low_24h: n(c.low_24h),
    price_change_24h: n(c.price_change_24h),
    price_change_percentage_24h: c.price_change_percentage_24h,
    market_cap_change_24h: n(c.market_cap_change_24h),
    market_cap_change_percentage_24h: c.market_cap_change_percentage_24h,
    circulating_supply: c.circulating_supply,
    total_supply: c.total_supply,
    max_supply: c.max_supply,
    ath: conv(c.ath),
    ath_change_percentage: c.ath_change_percentage,
    ath_date: c.ath_date,
    atl: conv(c.atl),
    atl_change_percentage: c.atl_change_percentage,
    atl_date: c.atl_date,
    roi: c.roi,
    last_updated: lastUpdated,
    ...(pct24 ? { price_change_percentage_24h_in_currency: c.price_change_percentage_24h_in_currency ?? null } : {}),
  };
}

const BITCOIN_DETAIL = {
  web_slug: 'bitcoin',
  block_time_in_minutes: 10,
  hashing_algorithm: 'SHA-256',
  genesis_date: '2009-01-03',
  categories: ['FTX Holdings', 'Cryptocurrency', 'Proof of Work (PoW)', 'Layer 1 (L1)'],
  description:
    'Bitcoin is the first successful internet money based on peer-to-peer technology; whereby no central bank or authority is involved in the transaction and production of the Bitcoin currency. It was created by an anonymous individual/group under the name, Satoshi Nakamoto. The source code is available publicly as an open source project, anybody can look at it and be part of the developmental process.',
  homepage: 'http://www.bitcoin.org',
  whitepaper: 'https://bitcoin.org/bitcoin.pdf',
  blockchain_site: ['https://mempool.space/', 'https://blockchair.com/bitcoin/', 'https://btc.com/', 'https://btc.tokenview.io/'],
  sentiment: 84.07,
  watchers: 1541900,
};
const CATEGORIES = [
  'Cryptocurrency',
  'Layer 1 (L1)',
  'Decentralized Finance (DeFi)',
  'Stablecoins',
  'Meme',
  'Smart Contract Platform',
  'Gaming (GameFi)',
  'Liquid Staking',
  'Artificial Intelligence (AI)',
  'Ethereum Ecosystem',
];

function detail(c: MarketItem): CoinDetail {
  const h = (salt: string): number => hash(`${c.id}:${salt}`);
  const btc = c.id === 'bitcoin';
  const slug = c.id.replace(/ /g, '-');
  const isToken = !btc && h('token') < 0.6;
  const address = `0x${[0, 1, 2, 3, 4]
    .map((i) =>
      Math.floor(h(`addr${i}`) * 2 ** 32)
        .toString(16)
        .padStart(8, '0'),
    )
    .join('')}`;
  const categories: (string | null)[] = btc
    ? [...BITCOIN_DETAIL.categories]
    : [...new Set([0, 1, 2].slice(0, 1 + Math.floor(h('ncat') * 3)).map((i) => CATEGORIES[Math.floor(h(`cat${i}`) * CATEGORIES.length)] ?? 'Cryptocurrency'))];
  if (c.id === TRAPS.nullCategory) categories.splice(1, 0, null);
  const dead = c.market_cap_rank === null;
  const up = btc ? BITCOIN_DETAIL.sentiment : round(50 + h('up') * 45, 2);
  const large = c.image;
  return {
    id: c.id,
    symbol: c.symbol,
    name: c.name,
    web_slug: slug,
    asset_platform_id: isToken ? 'ethereum' : null,
    platforms: isToken ? { ethereum: address } : { '': '' },
    detail_platforms: isToken ? { ethereum: { decimal_place: 18, contract_address: address } } : { '': { decimal_place: null, contract_address: '' } },
    block_time_in_minutes: btc ? 10 : isToken ? 0 : 1 + Math.floor(h('block') * 10),
    hashing_algorithm: btc ? BITCOIN_DETAIL.hashing_algorithm : isToken ? null : (['Ethash', 'Scrypt', 'SHA-256', 'X11'][Math.floor(h('algo') * 4)] ?? null),
    categories,
    preview_listing: false,
    public_notice: null,
    additional_notices: [],
    description: {
      en: btc
        ? BITCOIN_DETAIL.description
        : dead
          ? ''
          : `${c.name} (${c.symbol.toUpperCase()}) is ${isToken ? 'an ERC-20 token on Ethereum' : 'a layer 1 blockchain'}. This description is generated by fake-coingecko.`,
    },
    links: {
      homepage: [btc ? BITCOIN_DETAIL.homepage : `https://www.${slug}.example`, '', ''],
      whitepaper: btc ? BITCOIN_DETAIL.whitepaper : '',
      blockchain_site: btc ? BITCOIN_DETAIL.blockchain_site : [isToken ? `https://etherscan.io/token/${address}` : `https://explorer.${slug}.example/`, '', ''],
      official_forum_url: btc ? ['https://bitcointalk.org/'] : [''],
      chat_url: [''],
      announcement_url: ['', ''],
      snapshot_url: null,
      twitter_screen_name: slug,
      facebook_username: '',
      bitcointalk_thread_identifier: null,
      telegram_channel_identifier: '',
      subreddit_url: btc ? 'https://www.reddit.com/r/Bitcoin/' : 'https://www.reddit.com',
      repos_url: { github: btc ? ['https://github.com/bitcoin/bitcoin', 'https://github.com/bitcoin/bips'] : [], bitbucket: [] },
    },
    image: { thumb: large.replace('/large/', '/thumb/'), small: large.replace('/large/', '/small/'), large },
    country_origin: '',
    genesis_date: btc
      ? BITCOIN_DETAIL.genesis_date
      : isToken
        ? null
        : `20${14 + Math.floor(h('gen') * 9)}-0${1 + Math.floor(h('mon') * 9)}-1${Math.floor(h('day') * 10)}`,
    sentiment_votes_up_percentage: dead ? null : up,
    sentiment_votes_down_percentage: dead ? null : round(100 - up, 2),
    watchlist_portfolio_users: btc ? BITCOIN_DETAIL.watchers : 100 + Math.floor(h('watch') * 200_000),
    market_cap_rank: c.market_cap_rank,
    last_updated: c.last_updated,
  };
}

export interface Dataset {
  ids: string[];
  markets(currency: string, round: number, pct24: boolean): MarketItem[];
  detail(id: string, round: number): CoinDetail | undefined;
  chart(id: string, currency: string, round: number, days: number): MarketChart | undefined;
}

export function createDataset(count: number, currencies: string[]): Dataset {
  const unsupported = currencies.filter((c) => !SUPPORTED_CURRENCIES.includes(c));
  if (unsupported.length > 0) throw new Error(`unsupported currencies: ${unsupported.join(', ')} (supported: ${SUPPORTED_CURRENCIES.join(', ')})`);
  if (!Number.isInteger(count) || count < 1) throw new Error('coins must be a positive integer');
  const traps = withTraps(SAMPLE);
  const last = traps[traps.length - 1];
  if (!last) throw new Error('empty market sample');
  const newest = Math.max(...traps.map((c) => Date.parse(c.last_updated)));
  const base = [...traps.slice(0, count)];
  for (let n = traps.length + 1; n <= count; n++) base.push(synthesize(n, last, newest));

  const usdRound = (r: number): MarketItem[] =>
    base.map((c) =>
      c.id === TRAPS.stale ? c : convert(c, (v) => v * (1 + 0.01 * r), new Date(Date.parse(c.last_updated) + r * FIVE_MINUTES).toISOString(), true),
    );

  function markets(currency: string, r: number, pct24: boolean): MarketItem[] {
    if (!currencies.includes(currency)) throw new Error(`currency ${currency} is not configured`);
    const usd = usdRound(r);
    // A fixed BTC rate (bitcoin's round-0 usd price) so btc quotes move between rounds like the others.
    const btcUsd = base[0]?.current_price ?? 1; // the sample starts with bitcoin
    const rate = FIAT_RATES[currency];
    const conv = rate === undefined ? (v: number): number => v / btcUsd : (v: number): number => (rate === 1 ? v : v * rate);
    return usd.map((c) => convert(c, conv, c.last_updated, pct24));
  }

  function chart(id: string, currency: string, r: number, days: number): MarketChart | undefined {
    const coin = markets(currency, r, false).find((c) => c.id === id);
    if (!coin) return undefined;
    const end = Date.parse(coin.last_updated);
    const phase = hash(id) * 2 * Math.PI;
    // CoinGecko's automatic granularity: 5-minute points for 1 day, hourly up to 90 days, daily (at 00:00 UTC) beyond.
    const step = days <= 1 ? FIVE_MINUTES : days <= 90 ? HOUR : 24 * HOUR;
    const times: number[] = [];
    for (let t = Math.ceil((end - days * 24 * HOUR) / step) * step; t < end; t += step) times.push(t);
    // the final point is "now" and equals the markets values exactly, like upstream's last point
    const wave = (t: number, amp: number): number => 1 + amp * (Math.sin((end - t) / HOUR / 9 + phase) - Math.sin(phase));
    const series = (value: number, amp: number): [number, number][] => [...times.map((t): [number, number] => [t, value * wave(t, amp)]), [end, value]];
    return {
      prices: series(coin.current_price, 0.03),
      market_caps: series(coin.market_cap, 0.03),
      total_volumes: series(coin.total_volume ?? 0, 0.2),
    };
  }

  return {
    ids: base.map((c) => c.id),
    markets,
    detail: (id, r) => {
      const coin = usdRound(r).find((c) => c.id === id);
      return coin && detail(coin);
    },
    chart,
  };
}
