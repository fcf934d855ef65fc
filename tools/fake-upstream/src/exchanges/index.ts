import { BINANCE } from './binance.js';
import { COINBASE } from './coinbase.js';
import { KRAKEN } from './kraken.js';
import type { ExchangeName } from './markets.js';
import { startExchange, type FakeExchange, type FakeExchangeOptions } from './server.js';

export type { ExchangeName, FakePair, KrakenPair, QuoteAsset } from './markets.js';
export { BINANCE_PAIRS, COINBASE_PAIRS, COINS as EXCHANGE_COINS, KRAKEN_PAIRS } from './markets.js';
export type { FakeExchange, FakeExchangeFaults, FakeExchangeOptions, TickerOverride } from './server.js';

const DEFINITIONS = { binance: BINANCE, coinbase: COINBASE, kraken: KRAKEN } as const;

export const startFakeBinance = (options?: FakeExchangeOptions): Promise<FakeExchange> => startExchange(BINANCE, options);
export const startFakeCoinbase = (options?: FakeExchangeOptions): Promise<FakeExchange> => startExchange(COINBASE, options);
export const startFakeKraken = (options?: FakeExchangeOptions): Promise<FakeExchange> => startExchange(KRAKEN, options);

export interface FakeExchanges {
  binance: FakeExchange;
  coinbase: FakeExchange;
  kraken: FakeExchange;
  /** BINANCE_BASE_URL, COINBASE_BASE_URL and KRAKEN_BASE_URL pointing at the fakes */
  env: Record<'BINANCE_BASE_URL' | 'COINBASE_BASE_URL' | 'KRAKEN_BASE_URL', string>;
  /** every exchange's round at once (keep them in step with the fake CoinGecko's) */
  setRound(round: number): void;
  reset(): void;
  close(): Promise<void>;
}

/** The three fake exchanges, each on its own port; `ports` pins them (0 or unset = a free port). */
export async function startFakeExchanges(
  options: { host?: string; autoAdvanceMs?: number; ports?: Partial<Record<ExchangeName, number>> } = {},
): Promise<FakeExchanges> {
  const start = (name: ExchangeName) =>
    startExchange(DEFINITIONS[name], {
      ...(options.host ? { host: options.host } : {}),
      ...(options.autoAdvanceMs ? { autoAdvanceMs: options.autoAdvanceMs } : {}),
      port: options.ports?.[name] ?? 0,
    });
  const started = await Promise.allSettled([start('binance'), start('coinbase'), start('kraken')]);
  const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    await Promise.all(running.map((f) => f.close()));
    throw failure.reason instanceof Error ? failure.reason : new Error(String(failure.reason));
  }
  const [binance, coinbase, kraken] = running as [FakeExchange, FakeExchange, FakeExchange];
  const all = [binance, coinbase, kraken];
  return {
    binance,
    coinbase,
    kraken,
    env: { BINANCE_BASE_URL: binance.url, COINBASE_BASE_URL: coinbase.url, KRAKEN_BASE_URL: kraken.url },
    setRound: (round) => all.forEach((f) => f.setRound(round)),
    reset: () => all.forEach((f) => f.reset()),
    close: async () => {
      await Promise.all(all.map((f) => f.close()));
    },
  };
}
