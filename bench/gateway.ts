import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT, subgraphs } from '@cryptoagg/core';
import { composeSupergraph } from '@cryptoagg/gateway';
import { freePort, metric, OPERATIONS, startStack, type Stack } from '@cryptoagg/testkit';
import autocannon from 'autocannon';
import pg from 'pg';

/**
 * Gateway load, measured side by side in one run on the same response bytes:
 * ours (gateway + subgraphs + Redis cache), the floor (a bare node:http server
 * returning the identical JSON body), the peer (@graphql-hive/gateway on the
 * same supergraph and subgraphs), and the stock setup (ours with caching off).
 * Traffic goes to 127.0.0.1 only; every run is bounded in time.
 */

export interface Run {
  target: string;
  case: string;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
}

interface Case {
  name: string;
  body: string;
  /** a fresh body per request (cold cache) */
  vary?: (i: number) => string;
}

/** The production secret: our gateway adds it itself, the peer forwards the client's, the subgraphs require it. */
const SECRET = 'bench-subgraph-secret-0123456789';
const HEADERS = { 'content-type': 'application/json', 'x-subgraph-secret': SECRET };

const body = (operationName: string, variables: Record<string, unknown>) => JSON.stringify({ query: OPERATIONS, operationName, variables });

function cases(): Case[] {
  const to = new Date('2025-02-09T17:44:00Z');
  const from = new Date(to.getTime() - 30 * 24 * 3600 * 1000);
  return [
    { name: 'Markets first 100 (warm cache)', body: body('Markets', { currency: 'usd', first: 100 }) },
    { name: 'CoinDetail', body: body('CoinDetail', { id: 'bitcoin', currency: 'usd' }) },
    {
      name: 'CoinHistory 30 days HOUR',
      body: body('CoinHistory', { id: 'bitcoin', currency: 'usd', from: from.toISOString(), to: to.toISOString(), interval: 'HOUR' }),
    },
    {
      name: 'Markets first 100 (cold cache)',
      body: body('Markets', { currency: 'usd', first: 100 }),
      // A cursor before the first coin (rank 0) with a fresh id: the same page, a key never seen.
      vary: (i) => body('Markets', { currency: 'usd', first: 100, after: Buffer.from(JSON.stringify([0, `bench-${i}-${Date.now()}`])).toString('base64url') }),
    },
  ];
}

async function load(url: string, c: Case, seconds: number, overallRate?: number): Promise<Omit<Run, 'target' | 'case'>> {
  let i = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    headers: HEADERS,
    body: c.body,
    connections: 16,
    duration: seconds,
    ...(overallRate ? { overallRate } : {}),
    ...(c.vary ? { requests: [{ setupRequest: (request) => ({ ...request, body: c.vary!(i++) }) }] } : {}),
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

/** The floor: Node's own HTTP server answering every request with the given bytes. */
async function floorServer(bytes: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(bytes) });
      res.end(bytes);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/graphql`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The peer: @graphql-hive/gateway serving a supergraph composed with the running subgraphs' URLs. */
async function peerGateway(stack: Stack, scratch: string): Promise<{ url: string; process: ChildProcess }> {
  const composed = composeSupergraph(undefined, { urls: Object.fromEntries(subgraphs().map((s) => [s.name, `${stack.url(s.name)}/graphql`])) });
  const file = path.join(scratch, 'supergraph.graphql');
  writeFileSync(file, composed.supergraphSdl);
  // The subgraphs run as in production: they answer only requests carrying the shared secret.
  writeFileSync(
    path.join(scratch, 'gateway.config.mjs'),
    `export const gatewayConfig = { propagateHeaders: { fromClientToSubgraphs: ({ request }) => ({ 'x-subgraph-secret': request.headers.get('x-subgraph-secret') }) } };\n`,
  );
  const port = await freePort();
  const child = spawn(path.join(REPO_ROOT, 'node_modules/.bin/hive-gateway'), ['supergraph', file, '--host', '127.0.0.1', '--port', String(port)], {
    cwd: scratch,
    stdio: 'ignore',
    env: { PATH: process.env.PATH, NODE_ENV: 'production' },
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(url, { method: 'POST', headers: HEADERS, body: body('FetchStatus', {}) }).then(
      async (r) => r.ok && !JSON.stringify(await r.json()).includes('errors'),
      () => false,
    );
    if (ok) return { url, process: child };
    if (Date.now() > deadline) throw new Error('hive-gateway did not start');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** 30 days of hourly-ish history for bitcoin (5-minute snapshots), so CoinHistory has real work. */
async function seedHistory(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`select ensure_quote_snapshot_partitions(timestamptz '2025-01-01', timestamptz '2025-03-01')`);
  await client.query(
    `insert into quote_snapshots (coin_id, currency, last_updated, fetched_at, price, market_cap, total_volume)
     select 'bitcoin', 'usd', ts, ts, 90000 + 1000 * sin(extract(epoch from ts) / 86400), 1.8e12, 2e10
       from generate_series(timestamptz '2025-01-09T17:00:00Z', timestamptz '2025-02-09T17:00:00Z', interval '5 minutes') ts
     on conflict do nothing`,
  );
  await client.query('analyze quote_snapshots');
  await client.end();
}

async function bytesOf(url: string, c: Case): Promise<string> {
  const response = await fetch(url, { method: 'POST', headers: HEADERS, body: c.body });
  return response.text();
}

export interface GatewayBenchResult {
  seconds: number;
  runs: Run[];
  ratios: Record<string, { oursToFloor: number; oursToPeer: number | null; oursToStock: number | null }>;
  halfRate: { rate: number; p50: number; p99: number };
  federation: { direct: Omit<Run, 'target' | 'case'>; gateway: Omit<Run, 'target' | 'case'>; latencyRatio: number; throughputRatio: number };
  rssMb: Record<string, number>;
}

export async function gatewayBench({
  seconds = 8,
  adminDatabaseUrl,
}: { seconds?: number; adminDatabaseUrl?: string | undefined } = {}): Promise<GatewayBenchResult> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-bench-gw-'));
  const runs: Run[] = [];
  const record = (target: string, c: Case, r: Omit<Run, 'target' | 'case'>) => runs.push({ target, case: c.name, ...r });
  const ours = await startStack({ adminDatabaseUrl });
  try {
    await seedHistory(ours.databaseUrl);
    const stock = await startStack({ adminDatabaseUrl, cache: false, env: { CACHE_ENABLED: 'false', RESPONSE_CACHE_TTL_MS: '0' } });
    try {
      await seedHistory(stock.databaseUrl);
      const peer = await peerGateway(ours, scratch);
      try {
        const oursUrl = `${ours.gatewayUrl}/graphql`;
        for (const c of cases()) {
          // Warm up each target, then measure.
          await load(oursUrl, c, 1);
          record('ours', c, await load(oursUrl, c, seconds));
          if (c.vary) continue;
          const bytes = await bytesOf(oursUrl, c);
          if (!bytes.startsWith('{"data"')) throw new Error(`${c.name}: ${bytes.slice(0, 300)}`);
          const floor = await floorServer(bytes);
          try {
            record('floor', c, await load(floor.url, c, seconds));
          } finally {
            await floor.close();
          }
          await load(peer.url, c, 1);
          record('peer', c, await load(peer.url, c, seconds));
          await load(`${stock.gatewayUrl}/graphql`, c, 1);
          record('stock', c, await load(`${stock.gatewayUrl}/graphql`, c, seconds));
        }
        const markets = cases()[0]!;
        const max = runs.find((r) => r.target === 'ours' && r.case === markets.name)!.rps;
        const half = await load(oursUrl, markets, seconds, Math.max(1, Math.floor(max / 2)));

        // Federation overhead: a query the prices subgraph answers alone, sent to it directly and through the
        // gateway. A nonce variable (unused by the query) makes every request miss the gateway's response cache,
        // so this measures the federation path itself; the subgraph's own cache is warm in both cases.
        const entityQuery = '{ markets(first: 100) { totalCount edges { node { id quote { price marketCap } } } } }';
        const entity: Case = {
          name: 'prices-only',
          body: JSON.stringify({ query: entityQuery }),
          vary: (i) => JSON.stringify({ query: entityQuery, variables: { nonce: `${i}-${Date.now()}` } }),
        };
        await load(`${ours.url('prices')}/graphql`, entity, 1);
        const direct = await load(`${ours.url('prices')}/graphql`, entity, seconds);
        const viaGateway = await load(oursUrl, entity, seconds);

        const rssMb: Record<string, number> = {};
        for (const [name, url] of Object.entries(ours.urls)) {
          rssMb[name] = Math.round((await metric(url, 'process_resident_memory_bytes', Number.NaN)) / 1024 / 1024);
        }
        const ratios: GatewayBenchResult['ratios'] = {};
        for (const c of cases()) {
          const get = (target: string) => runs.find((r) => r.target === target && r.case === c.name);
          const o = get('ours');
          const f = get('floor');
          if (!o) continue;
          ratios[c.name] = {
            oursToFloor: f ? +(o.rps / f.rps).toFixed(3) : Number.NaN,
            oursToPeer: get('peer') ? +(o.rps / get('peer')!.rps).toFixed(3) : null,
            oursToStock: get('stock') ? +(o.rps / get('stock')!.rps).toFixed(3) : null,
          };
        }
        return {
          seconds,
          runs,
          ratios,
          halfRate: { rate: Math.floor(max / 2), p50: half.p50, p99: half.p99 },
          federation: {
            direct,
            gateway: viaGateway,
            latencyRatio: +(viaGateway.p50 / Math.max(direct.p50, 0.001)).toFixed(3),
            throughputRatio: +(direct.rps / viaGateway.rps).toFixed(3),
          },
          rssMb,
        };
      } finally {
        peer.process.kill('SIGTERM');
      }
    } finally {
      await stock.stop();
    }
  } finally {
    await ours.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('gateway.ts')) {
  const result = await gatewayBench({ seconds: Number(process.env.BENCH_SECONDS ?? 8), adminDatabaseUrl: process.env.DATABASE_URL });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
