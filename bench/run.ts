import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { gatewayBench, gatewaySection, type GatewayBenchResult } from './gateway.js';
import { historyBenchmark, historySection } from './history.js';
import { ingestBenchmark, ingestSection } from './ingest.js';
import { machine } from './lib/measure.js';
import { writeResult } from './lib/results.js';

/**
 * `npm run bench`: every benchmark in one run on this machine (DATABASE_URL's
 * server, or an embedded PostgreSQL), raw JSON in bench/results/ and the
 * summary in bench/RESULTS.md. Bounded: about 11 minutes on 2 cores.
 */
const adminDatabaseUrl = process.env.DATABASE_URL;
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
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

const gateway = await measure<GatewayBenchResult>('gateway', 'gateway load (ours, floor, peer: cached, uncached, mixed)', () =>
  gatewayBench({ seconds, adminDatabaseUrl }),
);
const ingest = await measure('ingest', 'ingest (fetcher store against COPY)', () => ingestBenchmark({ adminDatabaseUrl }));
const history = await measure('history', 'history at scale', () => historyBenchmark({ adminDatabaseUrl }));
log('done');

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
