import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { gatewayBench, type GatewayBenchResult } from './gateway.js';
import { historyBenchmark, type HistoryResult } from './history.js';
import { ingestBenchmark, type IngestResult } from './ingest.js';
import { machine } from './lib/measure.js';
import { writeResult } from './lib/results.js';

/**
 * `npm run bench`: every benchmark in one run on this machine (DATABASE_URL's
 * server, or an embedded PostgreSQL), raw JSON in bench/results/ and the
 * summary in bench/RESULTS.md. Bounded: under 10 minutes on 2 cores.
 */
const adminDatabaseUrl = process.env.DATABASE_URL;
const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const started = Date.now();
const log = (message: string) => process.stderr.write(`[bench ${Math.round((Date.now() - started) / 1000)}s] ${message}\n`);

// `npm run bench -- --report` only renders bench/RESULTS.md again from the JSON of the last run.
const reportOnly = process.argv.includes('--report');
const saved = async <T>(name: string): Promise<T> => JSON.parse(await readFile(path.join(REPO_ROOT, 'bench', 'results', `${name}.json`), 'utf8')) as T;

async function measure<T>(name: string, what: string, run: () => Promise<T>): Promise<T> {
  if (reportOnly) return saved<T>(name);
  log(what);
  const result = await run();
  await writeResult(name, result);
  return result;
}

const gateway = await measure('gateway', 'gateway load (ours, floor, peer, stock)', () => gatewayBench({ seconds, adminDatabaseUrl }));
const ingest = await measure('ingest', 'ingest (fetcher store against COPY)', () => ingestBenchmark({ adminDatabaseUrl }));
const history = await measure('history', 'history at scale', () => historyBenchmark({ adminDatabaseUrl }));
log('done');

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: digits }) : 'n/a');
const yes = (ok: boolean) => (ok ? 'met' : '**missed**');

function gatewaySection(g: GatewayBenchResult): string {
  const rows = g.runs.map((r) => `| ${r.case} | ${r.target} | ${f(r.rps, 0)} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.errors + r.non2xx} |`);
  const markets = g.ratios['Markets first 100 (warm cache)'];
  return [
    `## Gateway load (${g.seconds} s per run, 16 connections, autocannon)`,
    '',
    '| case | target | req/s | p50 ms | p90 ms | p99 ms | errors |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Targets: **ours** = gateway + subgraphs with the Redis cache and the gateway response cache (as deployed); **floor** = a bare `node:http` server returning the identical bytes; **peer** = `@graphql-hive/gateway` on the same supergraph and subgraphs; **stock** = ours with every cache off (`CACHE_ENABLED=false`, `RESPONSE_CACHE_TTL_MS=0`).',
    '',
    '| case | ours / floor | ours / peer | ours / stock |',
    '| --- | --- | --- | --- |',
    ...Object.entries(g.ratios).map(
      ([name, r]) =>
        `| ${name} | ${f(r.oursToFloor, 3)} | ${r.oursToPeer === null ? 'n/a' : f(r.oursToPeer, 2)} | ${r.oursToStock === null ? 'n/a' : f(r.oursToStock, 2)} |`,
    ),
    '',
    `- Markets warm at least 50% of the floor: ${yes((markets?.oursToFloor ?? 0) >= 0.5)} (${f(markets?.oursToFloor ?? Number.NaN, 3)}); at least 1.5x the peer: ${yes((markets?.oursToPeer ?? 0) >= 1.5)} (${f(markets?.oursToPeer ?? Number.NaN, 2)}).`,
    `- p99 at half the maximum rate (${f(g.halfRate.rate, 0)} req/s): ${g.halfRate.p99} ms, target under 20 ms: ${yes(g.halfRate.p99 < 20)}.`,
    `- Federation overhead (a prices-only query past the response cache, direct to the prices subgraph vs through the gateway): ${f(g.federation.direct.rps, 0)} vs ${f(g.federation.gateway.rps, 0)} req/s, p50 ${g.federation.direct.p50} vs ${g.federation.gateway.p50} ms; throughput ratio ${f(g.federation.throughputRatio, 2)}, target at most 1.3: ${yes(g.federation.throughputRatio <= 1.3)}.`,
    `- Resident memory after the runs: gateway ${g.rssMb.gateway} MB, coins ${g.rssMb.coins} MB, prices ${g.rssMb.prices} MB.`,
  ].join('\n');
}

function ingestSection(i: IngestResult): string {
  const m = i.measures;
  const row = (name: string, x: { ms: number; rowsPerSecond: number } | null) =>
    x ? `| ${name} | ${f(x.ms)} | ${f(x.rowsPerSecond, 0)} |` : `| ${name} | n/a | n/a |`;
  const ratio = m.writeRun.rowsPerSecond / m.copySnapshots.rowsPerSecond;
  const ratioAll = m.copyAllTables.ms / m.writeRun.ms;
  return [
    `## Ingest (${f(i.setup.rows.snapshots, 0)} snapshots: ${f(i.setup.coins, 0)} coins x ${i.setup.currencies.join(', ')}; medians of ${i.setup.repeats})`,
    '',
    '| measure | ms | snapshot rows/s |',
    '| --- | --- | --- |',
    row('fetcher run, end to end (60 page requests to the fake included)', m.run),
    row('fetcher store phase inside the run', m.runStorePhase),
    row('writeRun alone, empty tables', m.writeRun),
    row('writeRun, next round over the previous (steady state)', m.writeRunSteady),
    row('COPY quote_snapshots (the floor)', m.copySnapshots),
    row('COPY coins + snapshots + latest quotes in one transaction', m.copyAllTables),
    row('psql \\copy of the snapshots, minus psql start-up', m.copyPsql),
    '',
    `- Store (writeRun) against COPY of the snapshots: ${f(ratio * 100, 0)}% of COPY's rows/s; target at least 50%: ${yes(ratio >= 0.5)}. Against COPY of everything writeRun stores (coins, snapshots, latest quotes): ${f(ratioAll * 100, 0)}%.`,
    `- Every method stored identical rows: ${i.identicalRows ? 'yes' : '**no**'}.`,
  ].join('\n');
}

function historySection(h: HistoryResult): string {
  const rows = h.cases.flatMap((c) => [
    `| ${c.name} | ${c.points} | cold | ${f(c.gateway.cold.p50)} | ${f(c.gateway.cold.p95)} |`,
    `| ${c.name} | ${c.points} | warm (response cache) | ${f(c.gateway.warm.p50)} | ${f(c.gateway.warm.p95)} |`,
    `| ${c.name} | ${c.points} | warm (subgraph Redis cache) | ${f(c.gateway.warmSubgraphCache.p50)} | ${f(c.gateway.warmSubgraphCache.p95)} |`,
    `| ${c.name} | ${c.points} | SQL alone | ${f(c.sql.product.p50)} | ${f(c.sql.product.p95)} |`,
  ]);
  return [
    `## History at scale (${f(h.data.rows, 0)} rows: ${h.data.coins} coins x ${h.data.days} days of 5-minute snapshots${h.data.complete ? '' : ', **less than the year asked for: the generation budget ran out**'}; generated in ${f(h.data.generateMs / 1000)} s)`,
    '',
    '| case | points | path | p50 ms | p95 ms |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `- ${h.target.description}: ${yes(h.target.met)}${h.target.missed.length ? ` (missed: ${h.target.missed.join('; ')})` : ''}.`,
    `- Query plans: \`${path.isAbsolute(h.plansFile) ? path.relative(REPO_ROOT, h.plansFile) : h.plansFile}\`.`,
  ].join('\n');
}

const m = machine();
const report = [
  '# Benchmark results',
  '',
  `Measured by \`npm run bench\` on ${ingest.startedAt.slice(0, 10)}: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, ${m.platform}, PostgreSQL ${ingest.machine.postgres.version ?? ''} (${ingest.machine.database}). Everything runs on this one machine, load generator included: the numbers are ratios measured side by side in one run, not absolute capacity. Raw data: \`bench/results/*.json\`.`,
  '',
  gatewaySection(gateway),
  '',
  ingestSection(ingest),
  '',
  historySection(history),
  '',
  // The analysis is written by hand (what profiles showed, what changed, what is still missing): kept with the numbers.
  await readFile(path.join(REPO_ROOT, 'bench', 'findings.md'), 'utf8'),
].join('\n');
await writeFile(path.join(REPO_ROOT, 'bench', 'RESULTS.md'), report);
log(`wrote bench/RESULTS.md in ${Math.round((Date.now() - started) / 1000)} s`);
