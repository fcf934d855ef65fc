import { z } from 'zod';
import { startFakeCoinGecko, startFakeExchanges, type FakeExchanges } from './index.js';

const whole = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

const envSchema = z.object({
  FAKE_COINGECKO_PORT: whole(0, 65535).default(8089),
  FAKE_COINGECKO_HOST: z.string().trim().min(1).default('127.0.0.1'),
  FAKE_COINGECKO_COINS: whole(1, 100_000).default(250),
  FAKE_COINGECKO_ROUND_SECONDS: whole(0, 86_400).default(300),
  FAKE_COINGECKO_API_KEY: z.string().min(1).optional(),
  // The fake exchanges, one server each as each real exchange has its own base URL; 0 = a free port.
  FAKE_BINANCE_PORT: whole(0, 65535).default(8090),
  FAKE_COINBASE_PORT: whole(0, 65535).default(8091),
  FAKE_KRAKEN_PORT: whole(0, 65535).default(8092),
  FAKE_EXCHANGES: z.enum(['true', 'false']).default('true'),
});

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

// an exported-but-empty variable means "unset", as with most shell-driven config
const env = Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, process.env[k] === '' ? undefined : process.env[k]]));
const parsed = envSchema.safeParse(env);
if (!parsed.success) {
  const issue = parsed.error.issues[0];
  fail(`invalid ${String(issue?.path[0] ?? 'environment')}: ${issue?.message ?? 'bad value'}`);
}
const config = parsed.data;

const roundMs = config.FAKE_COINGECKO_ROUND_SECONDS > 0 ? config.FAKE_COINGECKO_ROUND_SECONDS * 1000 : undefined;
const exchanges: FakeExchanges | undefined =
  config.FAKE_EXCHANGES === 'true'
    ? await startFakeExchanges({
        host: config.FAKE_COINGECKO_HOST,
        ...(roundMs ? { autoAdvanceMs: roundMs } : {}),
        ports: { binance: config.FAKE_BINANCE_PORT, coinbase: config.FAKE_COINBASE_PORT, kraken: config.FAKE_KRAKEN_PORT },
      }).catch((err: unknown) => fail(`fake exchanges failed to start: ${err instanceof Error ? err.message : String(err)}`))
    : undefined;

const fake = await startFakeCoinGecko({
  port: config.FAKE_COINGECKO_PORT,
  host: config.FAKE_COINGECKO_HOST,
  coins: config.FAKE_COINGECKO_COINS,
  autoAdvanceMs: roundMs,
  apiKey: config.FAKE_COINGECKO_API_KEY,
  ...(exchanges ? { exchanges: exchanges.env } : {}),
}).catch((err: unknown) => fail(`fake CoinGecko failed to start: ${err instanceof Error ? err.message : String(err)}`));

process.stdout.write(`fake CoinGecko listening on ${fake.url}\n`);
if (exchanges) {
  for (const [variable, url] of Object.entries(exchanges.env))
    process.stdout.write(`fake ${variable.split('_')[0]?.toLowerCase() ?? ''} listening on ${url} (${variable})\n`);
}

const stop = (): void => {
  void fake.close();
  void exchanges?.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
