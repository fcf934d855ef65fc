import type { ExchangeSourceName, SourceQuoteRow } from '@cryptoagg/db';
import { SYMBOL_OVERRIDES } from './overrides.js';
import type { ListedPair, Ticker } from './types.js';

/**
 * From an exchange's pairs to our coins and currencies (CONTRACT section 8):
 * - the base asset is the coin whose symbol it is (case-insensitive), the one with the best market-cap
 *   rank among the coins we list when several share it, after the alias table below and the override
 *   file (overrides.ts) for known collisions;
 * - USD, USDT and USDC quotes serve `usd`, EUR `eur`, BTC `btc` (when configured); a stablecoin quote is
 *   converted with that stablecoin's own stored usd price (CoinGecko's tether / usd-coin), never 1:1, and
 *   a pair whose stablecoin has no stored usd price is left out.
 */

/**
 * Exchange asset codes that are not the common ticker: Kraken's legacy X/Z-prefixed codes (`XXBT`, `ZUSD`)
 * and its names for bitcoin and dogecoin (`XBT`, `XDG`). Explicit rather than "strip a leading X or Z":
 * ZETA, XTZ and ZEC are real tickers that start with those letters.
 */
const ASSET_ALIASES: Readonly<Record<string, string>> = {
  XBT: 'BTC',
  XXBT: 'BTC',
  XDG: 'DOGE',
  XXDG: 'DOGE',
  XETH: 'ETH',
  XETC: 'ETC',
  XLTC: 'LTC',
  XMLN: 'MLN',
  XREP: 'REP',
  XXLM: 'XLM',
  XXMR: 'XMR',
  XXRP: 'XRP',
  XZEC: 'ZEC',
  ZUSD: 'USD',
  ZEUR: 'EUR',
  ZGBP: 'GBP',
  ZCAD: 'CAD',
  ZJPY: 'JPY',
  ZAUD: 'AUD',
  ZCHF: 'CHF',
};

/** An exchange's asset code as the common ticker, upper case. */
export const normalizeAsset = (code: string): string => {
  const upper = code.trim().toUpperCase();
  return ASSET_ALIASES[upper] ?? upper;
};

/** Fiat currencies are never a coin's base asset, whatever coin shares the letters. */
const FIAT = new Set(['USD', 'EUR', 'GBP', 'CAD', 'JPY', 'AUD', 'CHF']);

/** The stablecoins whose quotes serve usd, by the CoinGecko id whose stored usd price converts them. */
export const STABLECOINS: Readonly<Record<string, string>> = { USDT: 'tether', USDC: 'usd-coin' };

const QUOTE_CURRENCY: Readonly<Record<string, string>> = { USD: 'usd', USDT: 'usd', USDC: 'usd', EUR: 'eur', BTC: 'btc' };

/** A coin we list: the candidates for a base asset. */
export interface ListedCoin {
  id: string;
  symbol: string;
  market_cap_rank: number | null;
}

/** What the mapping needs from the database: the coins we list, the stablecoins' usd prices, the configured currencies. */
export interface MappingInputs {
  coins: readonly ListedCoin[];
  /** CoinGecko id -> its stored usd price (tether, usd-coin) */
  stablecoinUsd: ReadonlyMap<string, number>;
  currencies: readonly string[];
}

/** A pair with the coin and currency it serves, and the factor that converts its price into that currency. */
export interface MappedPair {
  listing: ListedPair;
  coinId: string;
  currency: string;
  /** 1, or the stablecoin's usd price */
  factor: number;
  /** the coin's market-cap rank, for ordering requests most-wanted first */
  rank: number | null;
}

const byRank = (a: ListedCoin, b: ListedCoin) =>
  (a.market_cap_rank ?? Number.POSITIVE_INFINITY) - (b.market_cap_rank ?? Number.POSITIVE_INFINITY) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export interface Mapping {
  /** the coin a base asset of this exchange is, or undefined */
  coinFor(base: string): ListedCoin | undefined;
  /** the pair's coin, currency and conversion, or why it is left out */
  map(pair: ListedPair): MappedPair | { leftOut: string };
}

export function createMapping(source: ExchangeSourceName, inputs: MappingInputs): Mapping {
  const bySymbol = new Map<string, ListedCoin>();
  const byId = new Map<string, ListedCoin>();
  for (const coin of [...inputs.coins].sort(byRank)) {
    byId.set(coin.id, coin);
    const symbol = coin.symbol.toUpperCase();
    if (!bySymbol.has(symbol)) bySymbol.set(symbol, coin);
  }
  const overrides = { ...SYMBOL_OVERRIDES['*'], ...SYMBOL_OVERRIDES[source] };
  const currencies = new Set(inputs.currencies);

  const coinFor = (base: string): ListedCoin | undefined => {
    if (FIAT.has(base)) return undefined;
    const forced = overrides[base];
    return forced === undefined ? bySymbol.get(base) : byId.get(forced);
  };

  return {
    coinFor,
    map(pair) {
      const currency = QUOTE_CURRENCY[pair.quote];
      if (currency === undefined) return { leftOut: `quote asset ${pair.quote} serves no currency` };
      if (!currencies.has(currency)) return { leftOut: `${currency} is not a configured currency` };
      const coin = coinFor(pair.base);
      if (!coin) return { leftOut: `base asset ${pair.base} is none of the coins we list` };
      const stablecoin = STABLECOINS[pair.quote];
      let factor = 1;
      if (stablecoin !== undefined) {
        const usd = inputs.stablecoinUsd.get(stablecoin);
        if (usd === undefined) return { leftOut: `no stored usd price of ${stablecoin} to convert ${pair.quote}` };
        factor = usd;
      }
      return { listing: pair, coinId: coin.id, currency, factor, rank: coin.market_cap_rank };
    },
  };
}

/** The pairs that serve a coin and currency, most-wanted first (best coin rank, then the currencies' order, then the pair). */
export function selectPairs(mapping: Mapping, pairs: readonly ListedPair[], currencies: readonly string[]): MappedPair[] {
  const mapped = pairs.map((p) => mapping.map(p)).filter((m): m is MappedPair => 'coinId' in m);
  const order = (m: MappedPair) => currencies.indexOf(m.currency);
  return mapped.sort(
    (a, b) =>
      (a.rank ?? Number.POSITIVE_INFINITY) - (b.rank ?? Number.POSITIVE_INFINITY) ||
      (a.coinId < b.coinId ? -1 : a.coinId > b.coinId ? 1 : 0) ||
      order(a) - order(b) ||
      (a.listing.pair < b.listing.pair ? -1 : 1),
  );
}

/** The rows a source's run stores: each ticker of a mapped pair, its price converted. */
export function toRows(source: ExchangeSourceName, mapped: readonly MappedPair[], tickers: readonly Ticker[], time: Date): SourceQuoteRow[] {
  const byPair = new Map(mapped.map((m) => [m.listing.pair, m]));
  const rows: SourceQuoteRow[] = [];
  const seen = new Set<string>();
  for (const ticker of tickers) {
    const m = byPair.get(ticker.pair);
    if (!m || seen.has(ticker.pair)) continue;
    seen.add(ticker.pair);
    rows.push({
      source,
      pair: ticker.pair,
      time,
      coin_id: m.coinId,
      currency: m.currency,
      price: ticker.price * m.factor,
      quote_asset: m.listing.quote,
      quote_price: ticker.price,
      volume: ticker.volume,
    });
  }
  return rows;
}
