import { metric, startStack, type Stack } from '@cryptoagg/testkit';

/**
 * The soak: a fixed request rate through the gateway for a while, with Redis
 * killed a third of the way in and restarted at two thirds. Every request must
 * succeed (HTTP 200, no GraphQL errors, the right data), and each service's
 * memory must be back near its baseline afterwards. Bounded in count and time;
 * traffic goes to 127.0.0.1 only.
 */
export interface SoakResult {
  seconds: number;
  rate: number;
  sent: number;
  failed: number;
  failures: string[];
  latencyMs: { p50: number; p99: number; max: number };
  /** V8 heap in use (a leak shows here; resident memory rarely shrinks once grown) and resident memory, in MB */
  memoryMb: Record<string, { baseline: number; peak: number; after: number; rssBaseline: number; rssAfter: number }>;
}

/** Memory is back to baseline when the heap in use after the soak is within 50% (+10 MB) of before it. */
export const memoryRecovered = (m: { baseline: number; after: number }) => m.after <= m.baseline * 1.5 + 10;

const QUERIES = [
  { query: '{ markets(first: 20) { totalCount edges { node { id name quote { price } } } } }', check: (d: Record<string, unknown>) => 'markets' in d },
  {
    query: '{ coin(id: "bitcoin") { name description quote(currency: "eur") { price } } }',
    check: (d: Record<string, unknown>) => (d.coin as { name?: string } | null)?.name === 'Bitcoin',
  },
  { query: '{ coins(search: "bit", first: 5) { totalCount } }', check: (d: Record<string, unknown>) => 'coins' in d },
  { query: '{ fetchStatus { coinsUpdated } }', check: (d: Record<string, unknown>) => 'fetchStatus' in d },
];

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

export async function soak(stack: Stack, { seconds, rate }: { seconds: number; rate: number }): Promise<SoakResult> {
  const services = stack.urls;
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  const sample = async (name = 'nodejs_heap_size_used_bytes') =>
    Object.fromEntries(await Promise.all(Object.entries(services).map(async ([n, u]) => [n, await metric(u, name, Number.NaN)] as const)));
  // Warm up first, so the baseline is the steady state, not a cold process.
  for (let i = 0; i < 200; i += 1) await send(stack, i);
  const baseline = await sample();
  const rssBaseline = await sample('process_resident_memory_bytes');
  const peak = { ...baseline };

  const latencies: number[] = [];
  const failures: string[] = [];
  const total = seconds * rate;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  let killed = false;
  let restarted = false;
  for (let i = 0; i < total; i += 1) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const elapsed = (performance.now() - started) / 1000;
    if (!killed && elapsed >= seconds / 3) {
      killed = true;
      void stack.redis.kill();
    }
    if (!restarted && elapsed >= (2 * seconds) / 3) {
      restarted = true;
      void stack.redis.start();
    }
    inFlight.push(
      send(stack, i).then(
        (ms) => void latencies.push(ms),
        (error: unknown) => void failures.push(error instanceof Error ? error.message : String(error)),
      ),
    );
    if (i % rate === 0) for (const [name, bytes] of Object.entries(await sample())) peak[name] = Math.max(peak[name] ?? 0, bytes);
  }
  await Promise.all(inFlight);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const after = await sample();
  const rssAfter = await sample('process_resident_memory_bytes');
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    seconds,
    rate,
    sent: total,
    failed: failures.length,
    failures: failures.slice(0, 10),
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN },
    memoryMb: Object.fromEntries(
      Object.keys(services).map((n) => [
        n,
        { baseline: mb(baseline[n]!), peak: mb(peak[n]!), after: mb(after[n]!), rssBaseline: mb(rssBaseline[n]!), rssAfter: mb(rssAfter[n]!) },
      ]),
    ),
  };
}

async function send(stack: Stack, i: number): Promise<number> {
  const { query, check } = QUERIES[i % QUERIES.length]!;
  const started = performance.now();
  const response = await fetch(`${stack.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
  if (response.status !== 200 || body.errors || !body.data || !check(body.data)) {
    throw new Error(`request ${i}: HTTP ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
  }
  return performance.now() - started;
}

// `npm run soak`: 60 s at 50 requests/s (SOAK_SECONDS, SOAK_RATE), DATABASE_URL's server or an embedded one.
if (process.argv[1]?.endsWith('soak.ts')) {
  const seconds = Number(process.env.SOAK_SECONDS ?? 60);
  const rate = Number(process.env.SOAK_RATE ?? 50);
  const stack = await startStack({ adminDatabaseUrl: process.env.DATABASE_URL });
  try {
    const result = await soak(stack, { seconds, rate });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    const grown = Object.entries(result.memoryMb).filter(([, m]) => !memoryRecovered(m));
    if (result.failed > 0 || grown.length > 0) {
      process.stderr.write(`soak failed: ${result.failed} failed request(s); memory not back to baseline: ${grown.map(([n]) => n).join(', ') || 'none'}\n`);
      process.exitCode = 1;
    }
  } finally {
    await stack.stop();
  }
}
