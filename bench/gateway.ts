import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT, SUBGRAPH_SECRET_HEADER, subgraphs } from '@cryptoagg/core';
import { composeSupergraph } from '@cryptoagg/gateway';
import { freePort, OPERATIONS, startStack, SUBGRAPH_SECRET, type Stack } from '@cryptoagg/testkit';
import autocannon from 'autocannon';
import pg from 'pg';
import { buildBundles } from './lib/bundles.js';
import { MARKET_PAGE_SIZE, mixedWorkload, type MixInput } from './lib/mix.js';

/**
 * Gateway load, measured side by side in one run:
 * - cached, as deployed: ours (gateway and subgraph response caches, Redis) against the floor (a bare node:http server
 *   returning the identical bytes) and the fair peer, Hive Gateway with its own response cache
 *   (`responseCaching: { session: () => null, ttl }`, the same TTL as ours), on ours' subgraphs;
 * - uncached, the federated path: ours with every response cache off (RESPONSE_CACHE_TTL_MS=0, the subgraphs' Redis data
 *   cache on) against Hive Gateway with its default settings, on that stack's subgraphs;
 * - the mixed workload (bench/lib/mix.ts) for both pairs, with hit rates;
 * - every process's peak resident memory over the whole run (VmHWM).
 * Our services run from their bundles with their images' commands (heap bounds included), as production runs them.
 * Traffic goes to 127.0.0.1 only; every run is bounded in time.
 */

export interface Load {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  /** CPU time of the serving process (the gateway, the peer, the floor) per request, ms */
  cpuMsPerRequest?: number;
}

export interface Run extends Load {
  section: 'cached' | 'uncached' | 'mix-cached' | 'mix-uncached';
  target: 'ours' | 'floor' | 'peer';
  case: string;
  connections: number;
  /** the mixed workload: whole-response cache hits / lookups during the run */
  hitRate?: number;
  /** the mixed workload: requests sent, and how many of them distinct */
  sent?: { requests: number; distinct: number };
}

/** The response cache TTL of both cached gateways: the fetch interval, ours' default (RESPONSE_CACHE_TTL_MS). */
const CACHE_TTL_MS = 300_000;
const HEADERS = { 'content-type': 'application/json', [SUBGRAPH_SECRET_HEADER]: SUBGRAPH_SECRET };
const HISTORY_TO = new Date('2025-02-09T17:45:00Z');

const body = (operationName: string, variables: Record<string, unknown>) => JSON.stringify({ query: OPERATIONS, operationName, variables });

/** One case per contract operation, with the variables a client sends most. */
function cases(): { name: string; body: string }[] {
  const from = new Date(HISTORY_TO.getTime() - 30 * 86_400_000);
  return [
    { name: 'Markets first 100', body: body('Markets', { currency: 'usd', first: 100 }) },
    { name: 'CoinDetail', body: body('CoinDetail', { id: 'bitcoin', currency: 'usd' }) },
    {
      name: 'CoinHistory 30 days HOUR',
      body: body('CoinHistory', { id: 'bitcoin', currency: 'usd', from: from.toISOString(), to: HISTORY_TO.toISOString(), interval: 'HOUR' }),
    },
    { name: 'SearchCoins "bit"', body: body('SearchCoins', { search: 'bit', first: 20 }) },
    { name: 'FetchStatus', body: body('FetchStatus', {}) },
  ];
}

async function load(url: string, request: { body: string } | { next(): string }, seconds: number, connections: number): Promise<Load> {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: HEADERS,
    connections,
    duration: seconds,
    ...('body' in request ? { body: request.body } : { requests: [{ setupRequest: (r) => ({ ...r, body: request.next() }) }] }),
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

/**
 * The floor: Node's own HTTP server answering every request with the given bytes, in a process of its own like every
 * other target (in the benchmark's process it would share one event loop with the load generator).
 */
async function floorServer(bytes: string, scratch: string): Promise<{ url: string; pid: number | undefined; close(): Promise<void> }> {
  const file = path.join(scratch, 'floor-answer.json');
  writeFileSync(file, bytes);
  const port = await freePort();
  const code = `const bytes = require('node:fs').readFileSync(${JSON.stringify(file)});
require('node:http').createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length });
    res.end(bytes);
  });
}).listen(${port}, '127.0.0.1', () => process.send('ready'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (exitCode) => reject(new Error(`the floor server exited with ${exitCode}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    pid: child.pid,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** CPU time (user + system) a process has used so far, in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A load run with the CPU time the serving process spent per request (robust where wall-clock rates are not). */
async function measured(
  url: string,
  request: { body: string } | { next(): string },
  seconds: number,
  connections: number,
  pid: number | undefined,
): Promise<Load> {
  const before = cpuMs(pid);
  const result = await load(url, request, seconds, connections);
  const used = cpuMs(pid) - before;
  return { ...result, cpuMsPerRequest: result.requests > 0 ? +(used / result.requests).toFixed(3) : Number.NaN };
}

interface Peer {
  url: string;
  process: ChildProcess;
  /** GraphQL requests received and executed (a response-cache hit is not executed) so far */
  stats(): Promise<{ requests: number; executions: number }>;
}

/**
 * The peer: @graphql-hive/gateway (one process, its CLI's default) serving a supergraph composed with the given stack's
 * subgraph URLs. `ttl`: its response cache, keyed by the request alone (no session), as a user caching public data
 * configures it. A small plugin counts requests and executions for the hit rate (a cache hit ends before execution).
 */
async function peerGateway(stack: Stack, scratch: string, ttl: number | null): Promise<Peer> {
  const dir = mkdtempSync(path.join(scratch, 'peer-'));
  const composed = composeSupergraph(undefined, { urls: Object.fromEntries(subgraphs().map((s) => [s.name, `${stack.url(s.name)}/graphql`])) });
  const file = path.join(dir, 'supergraph.graphql');
  writeFileSync(file, composed.supergraphSdl);
  // The subgraphs run as in production: they answer only requests carrying the shared secret, which the peer forwards.
  writeFileSync(
    path.join(dir, 'gateway.config.mjs'),
    `let requests = 0;
let executions = 0;
export const gatewayConfig = {
  propagateHeaders: { fromClientToSubgraphs: ({ request }) => ({ '${SUBGRAPH_SECRET_HEADER}': request.headers.get('${SUBGRAPH_SECRET_HEADER}') }) },
  ${ttl === null ? '' : `responseCaching: { session: () => null, ttl: ${ttl} },`}
  plugins: () => [
    {
      onRequest({ url, endResponse, fetchAPI }) {
        if (url.pathname === '/bench-stats') endResponse(new fetchAPI.Response(JSON.stringify({ requests, executions })));
        else if (url.pathname === '/graphql') requests++;
      },
      onExecute() {
        executions++;
      },
    },
  ],
};
`,
  );
  const port = await freePort();
  const child = spawn(path.join(REPO_ROOT, 'node_modules/.bin/hive-gateway'), ['supergraph', file, '--host', '127.0.0.1', '--port', String(port)], {
    cwd: dir,
    stdio: 'ignore',
    env: { PATH: process.env.PATH, NODE_ENV: 'production' },
  });
  const origin = `http://127.0.0.1:${port}`;
  const url = `${origin}/graphql`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(url, { method: 'POST', headers: HEADERS, body: body('FetchStatus', {}) }).then(
      async (r) => r.ok && !JSON.stringify(await r.json()).includes('errors'),
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('hive-gateway did not start');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { url, process: child, stats: async () => (await fetch(`${origin}/bench-stats`)).json() as Promise<{ requests: number; executions: number }> };
}

/**
 * History to read: 7 days of 5-minute snapshots for every listed coin in usd (the mixed workload's ranges), and 30 days
 * for bitcoin (the CoinHistory case).
 */
export async function seedHistory(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`select ensure_quote_snapshot_partitions(timestamptz '2025-01-01', timestamptz '2025-03-01')`);
  await client.query(
    `insert into quote_snapshots (coin_id, currency, last_updated, fetched_at, price, market_cap, total_volume)
     select c.id, 'usd', ts, ts, 100 + 10 * sin(extract(epoch from ts) / 86400 + coalesce(c.market_cap_rank, 0)), 1e9, 1e8
       from coins c, generate_series($1::timestamptz - interval '7 days', $1::timestamptz, interval '5 minutes') ts
     union all
     select 'bitcoin', 'usd', ts, ts, 90000 + 1000 * sin(extract(epoch from ts) / 86400), 1.8e12, 2e10
       from generate_series($1::timestamptz - interval '30 days', $1::timestamptz - interval '7 days 1 minute', interval '5 minutes') ts
     on conflict do nothing`,
    [HISTORY_TO.toISOString()],
  );
  await client.query('analyze quote_snapshots');
  await client.end();
}

async function post<T>(url: string, payload: string): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: HEADERS, body: payload });
  const text = await response.text();
  if (!text.startsWith('{"data"') || text.includes('"errors"')) throw new Error(`${url}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** The mix's inputs, read from the running API: coins by rank, each currency's page cursors, search terms. */
async function mixInput(url: string, seed: number): Promise<MixInput> {
  type Page = { data: { markets: { pageInfo: { endCursor: string | null; hasNextPage: boolean }; edges: { node: { id: string; name: string } }[] } } };
  const currencies = ['usd', 'eur', 'btc'];
  const marketCursors: Record<string, string[]> = {};
  let coins: string[] = [];
  let names: string[] = [];
  for (const currency of currencies) {
    const cursors: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await post<Page>(url, body('Markets', { currency, first: MARKET_PAGE_SIZE, ...(after ? { after } : {}) }));
      if (currency === 'usd') {
        coins = [...coins, ...page.data.markets.edges.map((e) => e.node.id)];
        names = [...names, ...page.data.markets.edges.map((e) => e.node.name)];
      }
      if (!page.data.markets.pageInfo.hasNextPage || !page.data.markets.pageInfo.endCursor) break;
      cursors.push((after = page.data.markets.pageInfo.endCursor));
    }
    marketCursors[currency] = cursors;
  }
  const searchTerms = [...new Set(names.slice(0, 60).map((n) => n.slice(0, 3).toLowerCase()))];
  return { coins, currencies, marketCursors, searchTerms, historyTo: HISTORY_TO, seed };
}

/** The pid of a stack's gateway. */
const pidOf = (stack: Stack) => stack.processes['gateway:gateway']?.child.pid;

/** Peak resident memory (VmHWM) of a process, in MB. */
function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
  return Math.round(kb / 1024);
}

/** Whole-response cache hits and lookups of our gateway so far (cryptoagg_cache_requests_total). */
async function oursCacheCounts(gatewayUrl: string): Promise<{ hits: number; lookups: number }> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  const value = (result: string) => Number(new RegExp(`^cryptoagg_cache_requests_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { hits: value('hit'), lookups: value('hit') + value('miss') };
}

export interface GatewayBenchResult {
  seconds: number;
  mixSeconds: number;
  cacheTtlMs: number;
  runs: Run[];
  /** the mixed workload's share of each operation, as sent to ours in the cached run */
  mixOperations: Record<string, number>;
  /** peak resident memory over the whole benchmark, MB, by process */
  peakRssMb: Record<string, number>;
}

export async function gatewayBench({
  seconds = 5,
  adminDatabaseUrl,
}: { seconds?: number; adminDatabaseUrl?: string | undefined } = {}): Promise<GatewayBenchResult> {
  const mixSeconds = seconds * 2;
  const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-bench-gw-'));
  const runs: Run[] = [];
  const log = (message: string) => process.stderr.write(`[gateway bench] ${message}\n`);
  await buildBundles();
  const stops: (() => Promise<void> | void)[] = [];
  try {
    // Four stacks, each with its own database, Redis and subgraphs: ours and the peer never share a subgraph cache, so
    // neither meets caches the other has warmed. The peers' stacks run their subgraphs as ours do (as deployed for the
    // cached pair, response caches off for the uncached pair); their own gateways stay idle.
    const stack = async (responseCacheTtlMs: number) => {
      const started = await startStack({ adminDatabaseUrl, bundles: true, env: { RESPONSE_CACHE_TTL_MS: String(responseCacheTtlMs) } });
      stops.push(() => started.stop());
      await seedHistory(started.databaseUrl);
      return started;
    };
    const ours = await stack(CACHE_TTL_MS);
    const uncached = await stack(0);
    const peerCached = await peerGateway(await stack(CACHE_TTL_MS), scratch, CACHE_TTL_MS);
    stops.push(() => void peerCached.process.kill('SIGTERM'));
    const peerDefault = await peerGateway(await stack(0), scratch, null);
    stops.push(() => void peerDefault.process.kill('SIGTERM'));
    const oursUrl = `${ours.gatewayUrl}/graphql`;
    const uncachedUrl = `${uncached.gatewayUrl}/graphql`;

    // The mixed workload first, while every cache is empty. Each target gets its own stream with the same seed, so
    // both see the same requests in the same order.
    const input = await mixInput(oursUrl, 20261203);
    // Reading the inputs asked ours for the market pages: every other target gets the same requests first.
    for (const url of [peerCached.url, uncachedUrl, peerDefault.url]) await mixInput(url, 20261203);
    let mixOperations: Record<string, number> = {};
    for (const [section, oursTarget, gatewayPid, peer] of [
      ['mix-cached', ours.gatewayUrl, pidOf(ours), peerCached],
      ['mix-uncached', uncached.gatewayUrl, pidOf(uncached), peerDefault],
    ] as const) {
      log(`${section}: ours`);
      const before = await oursCacheCounts(oursTarget);
      const oursStream = mixedWorkload(input);
      const o = await measured(`${oursTarget}/graphql`, oursStream, mixSeconds, 50, gatewayPid);
      const after = await oursCacheCounts(oursTarget);
      const hits = after.hits - before.hits;
      const lookups = after.lookups - before.lookups;
      const { requests: sentRequests, distinct, byOperation } = oursStream.seen();
      runs.push({
        section,
        target: 'ours',
        case: 'Zipf mix',
        connections: 50,
        ...o,
        hitRate: lookups > 0 ? +(hits / lookups).toFixed(3) : 0,
        sent: { requests: sentRequests, distinct },
      });
      if (section === 'mix-cached') mixOperations = byOperation;
      log(`${section}: peer`);
      const peerBefore = await peer.stats();
      const peerStream = mixedWorkload(input);
      const p = await measured(peer.url, peerStream, mixSeconds, 50, peer.process.pid);
      const peerAfter = await peer.stats();
      const requests = peerAfter.requests - peerBefore.requests;
      const executions = peerAfter.executions - peerBefore.executions;
      const peerSent = peerStream.seen();
      runs.push({
        section,
        target: 'peer',
        case: 'Zipf mix',
        connections: 50,
        ...p,
        hitRate: requests > 0 ? +(1 - executions / requests).toFixed(3) : 0,
        sent: { requests: peerSent.requests, distinct: peerSent.distinct },
      });
    }

    for (const c of cases()) {
      for (const connections of [16, 50]) {
        log(`cached: ${c.name}, ${connections} connections`);
        await load(oursUrl, c, 1, connections);
        runs.push({ section: 'cached', target: 'ours', case: c.name, connections, ...(await measured(oursUrl, c, seconds, connections, pidOf(ours))) });
        const bytes = await (await fetch(oursUrl, { method: 'POST', headers: HEADERS, body: c.body })).text();
        if (!bytes.startsWith('{"data"') || bytes.includes('"errors"')) throw new Error(`${c.name}: ${bytes.slice(0, 300)}`);
        const floor = await floorServer(bytes, scratch);
        try {
          runs.push({ section: 'cached', target: 'floor', case: c.name, connections, ...(await measured(floor.url, c, seconds, connections, floor.pid)) });
        } finally {
          await floor.close();
        }
        await load(peerCached.url, c, 1, connections);
        runs.push({
          section: 'cached',
          target: 'peer',
          case: c.name,
          connections,
          ...(await measured(peerCached.url, c, seconds, connections, peerCached.process.pid)),
        });
      }
      log(`uncached: ${c.name}`);
      await load(uncachedUrl, c, 1, 50);
      runs.push({ section: 'uncached', target: 'ours', case: c.name, connections: 50, ...(await measured(uncachedUrl, c, seconds, 50, pidOf(uncached))) });
      await load(peerDefault.url, c, 1, 50);
      runs.push({
        section: 'uncached',
        target: 'peer',
        case: c.name,
        connections: 50,
        ...(await measured(peerDefault.url, c, seconds, 50, peerDefault.process.pid)),
      });
    }

    const peakRssMbByProcess: Record<string, number> = {};
    for (const [label, stack] of [
      ['cached', ours],
      ['uncached', uncached],
    ] as const) {
      for (const [name, p] of Object.entries(stack.processes)) peakRssMbByProcess[`${name.replace(/^gateway:/, '')} (${label})`] = peakRssMb(p.child.pid);
    }
    peakRssMbByProcess['hive-gateway (cached)'] = peakRssMb(peerCached.process.pid);
    peakRssMbByProcess['hive-gateway (default)'] = peakRssMb(peerDefault.process.pid);
    return { seconds, mixSeconds, cacheTtlMs: CACHE_TTL_MS, runs, mixOperations, peakRssMb: peakRssMbByProcess };
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('gateway.ts')) {
  const result = await gatewayBench({ seconds: Number(process.env.BENCH_SECONDS ?? 5), adminDatabaseUrl: process.env.DATABASE_URL });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: digits }) : 'n/a');
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

/** The gateway benchmark as a section of bench/RESULTS.md, every target with its verdict. */
export function gatewaySection(g: GatewayBenchResult): string {
  const find = (section: Run['section'], target: Run['target'], name: string, connections: number) =>
    g.runs.find((r) => r.section === section && r.target === target && r.case === name && r.connections === connections);
  const cpu = (r: Run | undefined) => fmt(r?.cpuMsPerRequest ?? Number.NaN, 3);
  const ratio = (a: Run | undefined, b: Run | undefined) => (a && b && b.rps > 0 ? a.rps / b.rps : Number.NaN);
  const names = [...new Set(g.runs.filter((r) => r.section === 'cached').map((r) => r.case))];

  const cachedRows: string[] = [];
  const floorMisses: string[] = [];
  for (const name of names) {
    for (const connections of [16, 50]) {
      const [o, f, p] = (['ours', 'floor', 'peer'] as const).map((t) => find('cached', t, name, connections));
      const toFloor = ratio(o, f);
      if (!(toFloor >= 0.5)) floorMisses.push(`${name} at ${connections}: ${fmt(toFloor, 2)}`);
      cachedRows.push(
        `| ${name} | ${connections} | ${fmt(o?.rps ?? Number.NaN)} | ${o?.p99 ?? 'n/a'} | ${cpu(o)} | ${fmt(f?.rps ?? Number.NaN)} | ${cpu(f)} | ${fmt(p?.rps ?? Number.NaN)} | ${p?.p99 ?? 'n/a'} | ${fmt(toFloor, 2)} | ${fmt(ratio(o, p), 1)} |`,
      );
    }
  }
  const uncachedRows: string[] = [];
  const peerMisses: string[] = [];
  for (const name of names) {
    const [o, p] = (['ours', 'peer'] as const).map((t) => find('uncached', t, name, 50));
    const toPeer = ratio(o, p);
    if (!(toPeer >= 1)) peerMisses.push(`${name}: ${fmt(toPeer, 2)}`);
    uncachedRows.push(
      `| ${name} | ${fmt(o?.rps ?? Number.NaN)} | ${o?.p99 ?? 'n/a'} | ${cpu(o)} | ${fmt(p?.rps ?? Number.NaN)} | ${p?.p99 ?? 'n/a'} | ${cpu(p)} | ${fmt(toPeer, 2)} |`,
    );
  }
  const mixRows = g.runs
    .filter((r) => r.section.startsWith('mix'))
    .map(
      (r) =>
        `| ${r.section === 'mix-cached' ? 'cached (peer: response cache on)' : 'uncached (peer: default)'} | ${r.target} | ${fmt(r.rps)} | ${r.p50} | ${r.p99} | ${cpu(r)} | ${fmt((r.hitRate ?? 0) * 100, 1)}% | ${fmt(r.sent?.requests ?? Number.NaN)} / ${fmt(r.sent?.distinct ?? Number.NaN)} | ${r.errors + r.non2xx} |`,
    );
  const mixRatio = (section: Run['section']) => ratio(find(section, 'ours', 'Zipf mix', 50), find(section, 'peer', 'Zipf mix', 50));
  const peaks = Object.entries(g.peakRssMb);
  const over = peaks.filter(([name, mb]) => (name.startsWith('gateway') ? mb >= 256 : !name.startsWith('hive') && mb >= 192));
  const totalOps = Object.values(g.mixOperations).reduce((a, b) => a + b, 0);
  return [
    `## Gateway load (autocannon, ${g.seconds} s per run, ${g.mixSeconds} s for the mix)`,
    '',
    `**ours** = our gateway and subgraphs from their bundles, run with their images' commands; **floor** = a bare \`node:http\` server returning the identical bytes; **peer** = Hive Gateway 2.15 (one process, its default) on the same subgraphs. Cached: ours as deployed (version-keyed response caches, safety TTL ${fmt(g.cacheTtlMs / 1000)} s), the peer with its own response cache (\`responseCaching: { session: () => null, ttl: ${g.cacheTtlMs} }\`). Uncached: every response cache of ours off (\`RESPONSE_CACHE_TTL_MS=0\`; the subgraphs' Redis data cache on), the peer with its defaults.`,
    '',
    '### Mixed workload (50 connections)',
    '',
    `A Zipf mix (s = 1) over the 250 coins, the three currencies, four history ranges and five market pages, the same seeded sequence for every target (${Object.entries(
      g.mixOperations,
    )
      .map(([op, n]) => `${op} ${fmt((n / totalOps) * 100)}%`)
      .join(
        ', ',
      )}); every response cache empty at its start. Hit rate: ours from its cache counter, the peer's as 1 - executions / requests (a plugin counts both). CPU ms/req: the serving process's user + system time per request (/proc), steadier than rates on a machine the load generator shares.`,
    '',
    '| setup | target | req/s | p50 ms | p99 ms | gateway CPU ms/req | hit rate | sent / distinct | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...mixRows,
    '',
    `- Mix, ours / peer: cached ${fmt(mixRatio('mix-cached'), 2)}x, uncached ${fmt(mixRatio('mix-uncached'), 2)}x.`,
    '',
    '### Cached (every contract operation)',
    '',
    '| case | connections | ours req/s | ours p99 ms | ours CPU ms/req | floor req/s | floor CPU ms/req | peer req/s | peer p99 ms | ours / floor | ours / peer |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...cachedRows,
    '',
    `- Cache hits at least 0.5x the floor at 16 and 50 connections: ${verdict(floorMisses.length === 0)}${floorMisses.length ? ` (${floorMisses.join('; ')})` : ''}.`,
    '',
    '### Uncached: the federated path (50 connections)',
    '',
    '| case | ours req/s | ours p99 ms | ours CPU ms/req | peer req/s | peer p99 ms | peer CPU ms/req | ours / peer |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...uncachedRows,
    '',
    `- At least 1.0x the peer on every contract operation: ${verdict(peerMisses.length === 0)}${peerMisses.length ? ` (${peerMisses.join('; ')})` : ''}.`,
    '',
    '### Memory: peak resident set over the whole benchmark (VmHWM)',
    '',
    '| process | peak MB |',
    '| --- | --- |',
    ...peaks.map(([name, mb]) => `| ${name} | ${fmt(mb)} |`),
    '',
    `- Gateway under 256 MB and each subgraph under 192 MB: ${verdict(over.length === 0)}${over.length ? ` (${over.map(([n, mb]) => `${n} ${mb} MB`).join('; ')})` : ''}.`,
  ].join('\n');
}
