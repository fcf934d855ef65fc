import { describe, expect, it } from 'vitest';
import { judge, median, type Evidence } from '../src/consensus.js';

/**
 * The consensus rule against hand-computed cases (CONTRACT section 8): every expected number below is
 * worked out from the inputs by hand, in the comment beside it.
 */
const NOW = new Date('2026-12-03T12:00:00.000Z');
const OPTIONS = { maxAgeSeconds: 600, outlierPct: 2 };
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1_000);
const quote = (source: string, pair: string, price: number, volume: number | null = 1, ageSeconds = 60): Evidence => ({
  source,
  pair,
  price,
  volume,
  fetchedAt: ago(ageSeconds),
});

describe('median', () => {
  it('is the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
});

describe('the consensus price', () => {
  it('one source: its price, a spread of 0', () => {
    const { consensus, sources } = judge([quote('coingecko', 'bitcoin', 100)], NOW, OPTIONS);
    expect(consensus).toEqual({ price: 100, sourceCount: 1, spreadPct: 0, outliers: [], computedAt: NOW });
    expect(sources).toEqual([{ ...quote('coingecko', 'bitcoin', 100), stale: false, outlier: false }]);
  });

  it('two sources: the mean of the two, spread (101 - 99) / 100 x 100 = 2', () => {
    const { consensus } = judge([quote('coingecko', 'bitcoin', 99), quote('kraken', 'XBTUSD', 101)], NOW, OPTIONS);
    // median = (99 + 101) / 2 = 100; each is 1% from it, within 2%
    expect(consensus).toEqual({ price: 100, sourceCount: 2, spreadPct: 2, outliers: [], computedAt: NOW });
  });

  it('an outlier is left out and named; the median of the rest is the price', () => {
    const { consensus, sources } = judge(
      [quote('kraken', 'XBTUSD', 110), quote('coingecko', 'bitcoin', 100), quote('binance', 'BTCUSDT', 101), quote('coinbase', 'BTC-USD', 99)],
      NOW,
      OPTIONS,
    );
    // median of all four = (100 + 101) / 2 = 100.5; kraken is 9.45% away (> 2), the others under 1.5%
    // counted 99, 100, 101: median 100, spread (101 - 99) / 100 x 100 = 2
    expect(consensus).toEqual({ price: 100, sourceCount: 3, spreadPct: 2, outliers: ['kraken'], computedAt: NOW });
    expect(sources.map((s) => [s.source, s.pair, s.outlier, s.stale])).toEqual([
      ['coingecko', 'bitcoin', false, false],
      ['binance', 'BTCUSDT', false, false],
      ['coinbase', 'BTC-USD', false, false],
      ['kraken', 'XBTUSD', true, false],
    ]);
  });

  it('outliers are named in alphabetical order', () => {
    const { consensus } = judge(
      [quote('kraken', 'XBTUSD', 50), quote('coingecko', 'bitcoin', 100), quote('binance', 'BTCUSDT', 150), quote('coinbase', 'BTC-USD', 100)],
      NOW,
      OPTIONS,
    );
    // median (100 + 100) / 2 = 100: binance (+50%) and kraken (-50%) are outliers
    expect(consensus).toEqual({ price: 100, sourceCount: 2, spreadPct: 0, outliers: ['binance', 'kraken'], computedAt: NOW });
  });

  it('all stale: no consensus, every source shown as stale', () => {
    const { consensus, sources } = judge([quote('coingecko', 'bitcoin', 100, null, 601), quote('binance', 'BTCUSDT', 100, 5, 3_600)], NOW, OPTIONS);
    expect(consensus).toBeNull();
    expect(sources.map((s) => [s.source, s.stale, s.outlier])).toEqual([
      ['coingecko', true, false],
      ['binance', true, false],
    ]);
  });

  it('a stale source is left out, even when it would be the outlier; exactly the maximum age is still fresh', () => {
    const { consensus, sources } = judge(
      [quote('coingecko', 'bitcoin', 100, null, 600), quote('binance', 'BTCUSDT', 102, 1, 599), quote('kraken', 'XBTUSD', 500, 1, 601)],
      NOW,
      OPTIONS,
    );
    // fresh: 100 and 102 -> median 101, spread 2 / 101 x 100
    expect(consensus).toEqual({ price: 101, sourceCount: 2, spreadPct: (2 / 101) * 100, outliers: [], computedAt: NOW });
    expect(sources.find((s) => s.source === 'kraken')).toMatchObject({ stale: true, outlier: false });
  });

  it('of several pairs of one exchange, the larger volume counts', () => {
    const { consensus } = judge(
      [
        quote('coingecko', 'bitcoin', 100),
        quote('coinbase', 'BTC-USD', 101, 900),
        quote('coinbase', 'BTC-USDT', 103, 100),
        quote('binance', 'BTCUSDT', 100.5, 10),
      ],
      NOW,
      OPTIONS,
    );
    // coinbase counts BTC-USD (volume 900 > 100): 100, 100.5, 101 -> median 100.5, spread 1 / 100.5 x 100
    expect(consensus).toEqual({ price: 100.5, sourceCount: 3, spreadPct: (1 / 100.5) * 100, outliers: [], computedAt: NOW });
  });

  it('a stablecoin-quoted pair counts at its converted price (USDT off its peg at 0.95: 100,000 USDT = 95,000 usd)', () => {
    // The fetcher stores 100000 x 0.95 for a BTCUSDT last price of 100000 when tether's usd price is 0.95.
    const converted = 100_000 * 0.95;
    const { consensus } = judge(
      [quote('coingecko', 'bitcoin', 95_100), quote('binance', 'BTCUSDT', converted), quote('kraken', 'XBTUSD', 95_050)],
      NOW,
      OPTIONS,
    );
    // 95000, 95050, 95100: median 95050, spread 100 / 95050 x 100; a 1:1 conversion (100000) would have been a 5% outlier
    expect(consensus).toEqual({ price: 95_050, sourceCount: 3, spreadPct: (100 / 95_050) * 100, outliers: [], computedAt: NOW });
  });

  it('two sources far apart are both kept (no source would be left): the spread shows it', () => {
    const { consensus, sources } = judge([quote('coingecko', 'bitcoin', 100), quote('kraken', 'XBTUSD', 110)], NOW, OPTIONS);
    // median 105, each 4.76% away; leaving both out would leave nothing
    expect(consensus).toEqual({ price: 105, sourceCount: 2, spreadPct: (10 / 105) * 100, outliers: [], computedAt: NOW });
    expect(sources.every((s) => !s.outlier)).toBe(true);
  });

  it('the threshold is exclusive: exactly 2% away is not an outlier', () => {
    const { consensus } = judge([quote('coingecko', 'bitcoin', 100), quote('binance', 'BTCUSDT', 100), quote('kraken', 'XBTUSD', 102)], NOW, OPTIONS);
    expect(consensus).toMatchObject({ price: 100, sourceCount: 3, outliers: [] });
  });
});
