import { z } from 'zod';

const VARIABLES = ['BINANCE_BASE_URL', 'COINBASE_BASE_URL', 'KRAKEN_BASE_URL'] as const;

const answerSchema = z.record(z.string(), z.url());

/**
 * The offline demo: when COINGECKO_BASE_URL points at the fake upstream (`npm run fake-upstream`), which
 * runs a fake of each exchange beside the fake CoinGecko and says where at GET /__fake/exchanges, the
 * exchange base URLs the environment leaves unset are pointed at those fakes, so the fetcher reads no real
 * exchange while CoinGecko is fake. Anything else (no COINGECKO_BASE_URL, the real CoinGecko, no answer
 * within 2 s) changes nothing.
 */
export async function fakeExchangeUrls(environment: NodeJS.ProcessEnv): Promise<Partial<Record<(typeof VARIABLES)[number], string>>> {
  const base = environment.COINGECKO_BASE_URL?.replace(/\/+$/, '');
  if (!base) return {};
  try {
    const response = await fetch(`${base}/__fake/exchanges`, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) return {};
    const parsed = answerSchema.safeParse(await response.json());
    if (!parsed.success) return {};
    return Object.fromEntries(VARIABLES.flatMap((v) => (environment[v] || !parsed.data[v] ? [] : [[v, parsed.data[v]]])));
  } catch {
    return {};
  }
}
