import { createDataset } from '../data.js';

/**
 * What the fake exchanges trade, and at what price: every price derives from the fake CoinGecko's
 * usd price of the coin in the same round (the 2025-02-09 sample times 1 + 0.01·round), so the
 * exchanges agree with CoinGecko within a few hundredths of a percent, like real markets do, and
 * a consensus over them is predictable. Each exchange adds a small deterministic premium per pair.
 */

export type ExchangeName = 'binance' | 'coinbase' | 'kraken';
export type QuoteAsset = 'USD' | 'USDT' | 'USDC' | 'EUR' | 'BTC';

/** The common ticker of each coin the fakes trade, and its CoinGecko id. */
export const COINS: Readonly<Record<string, string>> = {
  BTC: 'bitcoin',
  ETH: 'ethereum',
  USDT: 'tether',
  XRP: 'ripple',
  SOL: 'solana',
  BNB: 'binancecoin',
  USDC: 'usd-coin',
  DOGE: 'dogecoin',
  ADA: 'cardano',
  TRX: 'tron',
  LINK: 'chainlink',
  AVAX: 'avalanche-2',
  XLM: 'stellar',
  LTC: 'litecoin',
  DOT: 'polkadot',
  BCH: 'bitcoin-cash',
  SHIB: 'shiba-inu',
};

/** A pair as the fake lists it: its symbol on the exchange, its assets as common tickers, and a listing trap if any. */
export interface FakePair {
  pair: string;
  base: string;
  quote: QuoteAsset;
  /** listed but not tradable (Binance BREAK, Coinbase delisted / trading disabled, Kraken cancel_only) */
  notTrading?: boolean;
}

const EUR_PER_USD = 0.92;
const BIAS: Record<ExchangeName, number> = { binance: 0.0004, coinbase: -0.0003, kraken: 0.0001 };

/** FNV-1a mapped to [0,1): stable pseudo-randomness keyed by text. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

export interface PairValues {
  /** in the quote asset */
  price: number;
  /** 24 h volume in the base asset */
  volume: number;
}

const dataset = createDataset(250, ['usd']);
const usdByRound = new Map<number, Map<string, { price: number; volume: number | null }>>();

function usd(round: number): Map<string, { price: number; volume: number | null }> {
  let prices = usdByRound.get(round);
  if (!prices) {
    prices = new Map(dataset.markets('usd', round, false).map((c) => [c.id, { price: c.current_price, volume: c.total_volume }]));
    usdByRound.set(round, prices);
  }
  return prices;
}

/** Bitcoin's round-0 usd price: the fake CoinGecko's fixed btc rate, so btc pairs agree with its btc quotes. */
const BTC_USD = usd(0).get('bitcoin')?.price ?? 1;

/** The usd value of one unit of a quote asset in a round. */
function quoteUsd(quote: QuoteAsset, round: number): number {
  if (quote === 'USD') return 1;
  if (quote === 'EUR') return 1 / EUR_PER_USD;
  if (quote === 'BTC') return BTC_USD;
  const stable = usd(round).get(quote === 'USDT' ? 'tether' : 'usd-coin')?.price;
  if (stable === undefined) throw new Error(`no usd price of ${quote}`);
  return stable;
}

/** A pair's values in a round before any override or fault; undefined for a base the data set lacks. */
export function pairValues(exchange: ExchangeName, pair: FakePair, round: number): PairValues | undefined {
  const id = COINS[pair.base];
  // Binance also trades a fiat currency against a stablecoin (EURUSDT): a base that is no coin.
  const coin = pair.base === 'EUR' ? { price: 1 / EUR_PER_USD, volume: 5e8 } : id === undefined ? undefined : usd(round).get(id);
  if (!coin) return undefined;
  const premium = 1 + BIAS[exchange] + (hash(`${exchange}:${pair.pair}`) - 0.5) * 0.0004;
  // The exchange's share of the coin's whole 24 h volume, in coins: larger on its main quote.
  const main = (exchange === 'binance' && pair.quote === 'USDT') || (exchange !== 'binance' && pair.quote === 'USD');
  const share = (0.01 + 0.04 * hash(`volume:${exchange}:${pair.pair}`)) * (main ? 4 : 1);
  return { price: (coin.price * premium) / quoteUsd(pair.quote, round), volume: ((coin.volume ?? 0) / coin.price) * share };
}

/** A decimal string as exchanges send numbers, never in exponent form: `digits` significant digits. */
export function decimalText(value: number, digits: number): string {
  if (value === 0) return '0';
  const decimals = Math.min(20, Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(value)))));
  return value.toFixed(decimals);
}

const pairs = (list: [pair: string, base: string, quote: QuoteAsset, notTrading?: boolean][]): FakePair[] =>
  list.map(([pair, base, quote, notTrading]) => ({ pair, base, quote, ...(notTrading ? { notTrading } : {}) }));

/** Binance symbols: BASE + QUOTE. BCCBTC is listed in BREAK (a halted market, as in the 2019 sample); EURUSDT has a fiat base. */
export const BINANCE_PAIRS: FakePair[] = [
  ...pairs([
    ['BTCUSDT', 'BTC', 'USDT'],
    ['BTCUSDC', 'BTC', 'USDC'],
    ['BTCEUR', 'BTC', 'EUR'],
    ['ETHUSDT', 'ETH', 'USDT'],
    ['ETHUSDC', 'ETH', 'USDC'],
    ['ETHBTC', 'ETH', 'BTC'],
    ['ETHEUR', 'ETH', 'EUR'],
    ['XRPUSDT', 'XRP', 'USDT'],
    ['XRPBTC', 'XRP', 'BTC'],
    ['SOLUSDT', 'SOL', 'USDT'],
    ['SOLBTC', 'SOL', 'BTC'],
    ['SOLEUR', 'SOL', 'EUR'],
    ['BNBUSDT', 'BNB', 'USDT'],
    ['BNBBTC', 'BNB', 'BTC'],
    ['USDCUSDT', 'USDC', 'USDT'],
    ['DOGEUSDT', 'DOGE', 'USDT'],
    ['DOGEBTC', 'DOGE', 'BTC'],
    ['ADAUSDT', 'ADA', 'USDT'],
    ['TRXUSDT', 'TRX', 'USDT'],
    ['LINKUSDT', 'LINK', 'USDT'],
    ['AVAXUSDT', 'AVAX', 'USDT'],
    ['XLMUSDT', 'XLM', 'USDT'],
    ['LTCUSDT', 'LTC', 'USDT'],
    ['LTCBTC', 'LTC', 'BTC'],
    ['DOTUSDT', 'DOT', 'USDT'],
    ['BCHUSDT', 'BCH', 'USDT'],
    ['SHIBUSDT', 'SHIB', 'USDT'],
    ['BCCBTC', 'BCH', 'BTC', true],
    ['EURUSDT', 'EUR', 'USDT'],
  ]),
];

/** Coinbase products: BASE-QUOTE. XLM-EUR is delisted and ADA-EUR has trading disabled. */
export const COINBASE_PAIRS: FakePair[] = pairs([
  ['BTC-USD', 'BTC', 'USD'],
  ['BTC-EUR', 'BTC', 'EUR'],
  ['BTC-USDT', 'BTC', 'USDT'],
  ['ETH-USD', 'ETH', 'USD'],
  ['ETH-EUR', 'ETH', 'EUR'],
  ['ETH-BTC', 'ETH', 'BTC'],
  ['ETH-USDT', 'ETH', 'USDT'],
  ['SOL-USD', 'SOL', 'USD'],
  ['SOL-EUR', 'SOL', 'EUR'],
  ['SOL-BTC', 'SOL', 'BTC'],
  ['XRP-USD', 'XRP', 'USD'],
  ['DOGE-USD', 'DOGE', 'USD'],
  ['ADA-USD', 'ADA', 'USD'],
  ['LINK-USD', 'LINK', 'USD'],
  ['AVAX-USD', 'AVAX', 'USD'],
  ['XLM-USD', 'XLM', 'USD'],
  ['LTC-USD', 'LTC', 'USD'],
  ['LTC-BTC', 'LTC', 'BTC'],
  ['DOT-USD', 'DOT', 'USD'],
  ['BCH-USD', 'BCH', 'USD'],
  ['SHIB-USD', 'SHIB', 'USD'],
  ['USDT-USD', 'USDT', 'USD'],
  ['XLM-EUR', 'XLM', 'EUR', true],
  ['ADA-EUR', 'ADA', 'EUR', true],
]);

/** A Kraken pair: its AssetPairs key (the name its tickers come back under), altname, wsname and asset codes. */
export interface KrakenPair extends FakePair {
  key: string;
  wsname: string;
  baseCode: string;
  quoteCode: string;
}

const kraken = (
  key: string,
  altname: string,
  wsname: string,
  baseCode: string,
  quoteCode: string,
  base: string,
  quote: QuoteAsset,
  notTrading = false,
): KrakenPair => ({
  key,
  pair: altname,
  wsname,
  baseCode,
  quoteCode,
  base,
  quote,
  ...(notTrading ? { notTrading } : {}),
});

/**
 * Kraken's pairs as its AssetPairs lists them, legacy names and all: bitcoin is XBT (asset XXBT), dogecoin
 * XDG (XXDG), older assets carry X/Z prefixes (XETH, ZUSD), and the ticker answer is keyed by the pair's
 * key (XXBTZUSD), not the altname asked for (XBTUSD). BCHEUR is cancel_only.
 */
export const KRAKEN_PAIRS: KrakenPair[] = [
  kraken('XXBTZUSD', 'XBTUSD', 'XBT/USD', 'XXBT', 'ZUSD', 'BTC', 'USD'),
  kraken('XXBTZEUR', 'XBTEUR', 'XBT/EUR', 'XXBT', 'ZEUR', 'BTC', 'EUR'),
  kraken('XBTUSDT', 'XBTUSDT', 'XBT/USDT', 'XXBT', 'USDT', 'BTC', 'USDT'),
  kraken('XBTUSDC', 'XBTUSDC', 'XBT/USDC', 'XXBT', 'USDC', 'BTC', 'USDC'),
  kraken('XETHZUSD', 'ETHUSD', 'ETH/USD', 'XETH', 'ZUSD', 'ETH', 'USD'),
  kraken('XETHZEUR', 'ETHEUR', 'ETH/EUR', 'XETH', 'ZEUR', 'ETH', 'EUR'),
  kraken('XETHXXBT', 'ETHXBT', 'ETH/XBT', 'XETH', 'XXBT', 'ETH', 'BTC'),
  kraken('SOLUSD', 'SOLUSD', 'SOL/USD', 'SOL', 'ZUSD', 'SOL', 'USD'),
  kraken('SOLEUR', 'SOLEUR', 'SOL/EUR', 'SOL', 'ZEUR', 'SOL', 'EUR'),
  kraken('SOLXBT', 'SOLXBT', 'SOL/XBT', 'SOL', 'XXBT', 'SOL', 'BTC'),
  kraken('XXRPZUSD', 'XRPUSD', 'XRP/USD', 'XXRP', 'ZUSD', 'XRP', 'USD'),
  kraken('XDGUSD', 'XDGUSD', 'XDG/USD', 'XXDG', 'ZUSD', 'DOGE', 'USD'),
  kraken('XDGEUR', 'XDGEUR', 'XDG/EUR', 'XXDG', 'ZEUR', 'DOGE', 'EUR'),
  kraken('ADAUSD', 'ADAUSD', 'ADA/USD', 'ADA', 'ZUSD', 'ADA', 'USD'),
  kraken('TRXUSD', 'TRXUSD', 'TRX/USD', 'TRX', 'ZUSD', 'TRX', 'USD'),
  kraken('LINKUSD', 'LINKUSD', 'LINK/USD', 'LINK', 'ZUSD', 'LINK', 'USD'),
  kraken('AVAXUSD', 'AVAXUSD', 'AVAX/USD', 'AVAX', 'ZUSD', 'AVAX', 'USD'),
  kraken('XXLMZUSD', 'XLMUSD', 'XLM/USD', 'XXLM', 'ZUSD', 'XLM', 'USD'),
  kraken('XLTCZUSD', 'LTCUSD', 'LTC/USD', 'XLTC', 'ZUSD', 'LTC', 'USD'),
  kraken('DOTUSD', 'DOTUSD', 'DOT/USD', 'DOT', 'ZUSD', 'DOT', 'USD'),
  kraken('BCHUSD', 'BCHUSD', 'BCH/USD', 'BCH', 'ZUSD', 'BCH', 'USD'),
  kraken('SHIBUSD', 'SHIBUSD', 'SHIB/USD', 'SHIB', 'ZUSD', 'SHIB', 'USD'),
  kraken('USDTZUSD', 'USDTUSD', 'USDT/USD', 'USDT', 'ZUSD', 'USDT', 'USD'),
  kraken('BCHEUR', 'BCHEUR', 'BCH/EUR', 'BCH', 'ZEUR', 'BCH', 'EUR', true),
];
