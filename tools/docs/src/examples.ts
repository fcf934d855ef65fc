import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { coinsConfigSchema, startCoinsSubgraph } from '@cryptoagg/coins';
import { createLogger, parseConfig } from '@cryptoagg/core';
import { REPO_ROOT, startEmbeddedPostgres } from '@cryptoagg/db';
import { startFakeCoinGecko } from '@cryptoagg/fake-upstream';
import { gatewayConfigSchema, startGateway } from '@cryptoagg/gateway';
import { pricesConfigSchema, startPricesSubgraph } from '@cryptoagg/prices';
import { freePort } from '@cryptoagg/testkit';
import { Kind, parse } from 'graphql';
import type { z } from 'zod';
import { readOperations } from './schema.js';

/** One contract operation as the docs show it: its text, example variables and the real response. */
export interface OperationExample {
  name: string;
  /** the operation's text exactly as in the contract */
  document: string;
  /** the Query fields it selects, e.g. ['markets'] */
  rootFields: string[];
  variables: Record<string, unknown>;
  /** the gateway's response, with wall-clock times replaced by WALL_CLOCK_PLACEHOLDER */
  response: { data: Record<string, unknown> };
}

/**
 * Variables of every contract operation: small pages, on the fake CoinGecko's
 * fixed data (bitcoin last updated 2025-02-09T17:44:04Z, then every 5 minutes
 * per fetch round). An operation of the contract missing here stops the
 * generator, so a new operation cannot go undocumented.
 */
export const EXAMPLE_VARIABLES: Readonly<Record<string, Record<string, unknown>>> = {
  Markets: { currency: 'usd', first: 3 },
  CoinDetail: { id: 'bitcoin', currency: 'usd' },
  CoinHistory: { id: 'bitcoin', currency: 'usd', from: '2025-02-09T17:00:00Z', to: '2025-02-09T18:00:00Z', interval: 'RAW' },
  SearchCoins: { search: 'bit', first: 3 },
  FetchStatus: {},
};

/** Fields holding the wall-clock time of the generating run rather than upstream data. */
export const WALL_CLOCK_FIELDS: readonly string[] = ['fetchedAt', 'lastAttemptAt', 'lastSuccessAt', 'lastFetchedAt'];
/** What the examples show instead of a wall-clock time, so that regenerating gives identical files. */
export const WALL_CLOCK_PLACEHOLDER = '2025-02-09T18:00:00.000Z';
/** Fetcher runs before the examples are taken, one fake round (5 minutes of upstream time) apart: history has points. */
export const FETCH_ROUNDS = 3;

interface ContractOperation {
  name: string;
  document: string;
  rootFields: string[];
}

export function contractOperations(source: string = readOperations()): ContractOperation[] {
  return parse(source).definitions.flatMap((definition) => {
    if (definition.kind !== Kind.OPERATION_DEFINITION || !definition.name || !definition.loc) return [];
    return [
      {
        name: definition.name.value,
        document: source.slice(definition.loc.start, definition.loc.end),
        rootFields: definition.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : [])),
      },
    ];
  });
}

/** Replaces every wall-clock time (by field name; the contract operations use no aliases) with the placeholder. */
export function freezeWallClock(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(freezeWallClock);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, WALL_CLOCK_FIELDS.includes(key) && typeof v === 'string' ? WALL_CLOCK_PLACEHOLDER : freezeWallClock(v)]),
  );
}

/** Paths of nulls at the top and of empty lists anywhere: an example showing nothing means its variables no longer fit the data. */
function emptyParts(data: Record<string, unknown>): string[] {
  const found: string[] = [];
  const walk = (value: unknown, at: string): void => {
    if (Array.isArray(value)) {
      if (value.length === 0) found.push(at);
      value.forEach((item, i) => walk(item, `${at}.${i}`));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) walk(v, `${at}.${key}`);
    }
  };
  for (const [key, value] of Object.entries(data)) {
    if (value === null) found.push(key);
    walk(value, key);
  }
  return found;
}

/** One `npm run fetch`, exactly as the CronJob runs it (a process of its own, through tsx). */
function runFetcher(env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'jobs', 'fetcher', 'src', 'main.ts')], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`the fetcher exited with ${code}:\n${output}`));
    });
  });
}

function parsed<S extends z.ZodType>(schema: S, env: Record<string, string>): z.output<S> {
  const result = parseConfig(schema, env);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config;
}

/** Both subgraphs and the gateway on free ports of 127.0.0.1, wired as in production; returns the gateway's URL and a stop. */
async function startStack(databaseUrl: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const [coinsPort, pricesPort, gatewayPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const common = { HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl };
  const logger = createLogger('docs', 'silent');
  const [coins, prices] = await Promise.all([
    startCoinsSubgraph(parsed(coinsConfigSchema, { ...common, COINS_PORT: String(coinsPort) }), logger),
    startPricesSubgraph(parsed(pricesConfigSchema, { ...common, PRICES_PORT: String(pricesPort) }), logger),
  ]);
  const gateway = await startGateway(
    parsed(gatewayConfigSchema, { ...common, GATEWAY_PORT: String(gatewayPort), COINS_URL: `${coins.url}/graphql`, PRICES_URL: `${prices.url}/graphql` }),
    logger,
  );
  return {
    url: `${gateway.url}/graphql`,
    stop: async () => {
      await gateway.stop();
      await Promise.all([coins.stop(), prices.stop()]);
    },
  };
}

export interface CollectOptions {
  /** a migrated or empty database to fill (tests pass theirs); default: a throwaway embedded PostgreSQL */
  databaseUrl?: string;
  log?: (line: string) => void;
}

/**
 * Runs every contract operation against the real stack, fed by the fake
 * CoinGecko through the real fetcher, and returns what a client would see.
 * Nothing is invented: if an operation fails or answers with nothing, this
 * throws, and the docs are not generated.
 */
export async function collectExamples(options: CollectOptions = {}): Promise<OperationExample[]> {
  const log = options.log ?? (() => undefined);
  const operations = contractOperations();
  const missing = operations.filter((op) => !(op.name in EXAMPLE_VARIABLES)).map((op) => op.name);
  if (missing.length > 0) throw new Error(`no example variables for contract operation(s) ${missing.join(', ')}: add them to EXAMPLE_VARIABLES`);

  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-docs-'));
      // As root, the embedded server runs as the `postgres` user, which must reach its data folder.
      chmodSync(scratch, 0o755);
      cleanups.unshift(() => rmSync(scratch, { recursive: true, force: true }));
      log('starting a throwaway embedded PostgreSQL');
      const server = await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), port: await freePort(), persistent: false });
      cleanups.unshift(() => server.stop());
      databaseUrl = server.url;
    }
    const fake = await startFakeCoinGecko({ host: '127.0.0.1' });
    cleanups.unshift(() => fake.close());
    for (let round = 0; round < FETCH_ROUNDS; round++) {
      fake.setRound(round);
      log(`fetcher run ${round + 1} of ${FETCH_ROUNDS} against the fake CoinGecko`);
      await runFetcher({ DATABASE_URL: databaseUrl, COINGECKO_BASE_URL: fake.url, COINGECKO_RATE_LIMIT_PER_MIN: '10000', LOG_LEVEL: 'warn' });
    }
    const stack = await startStack(databaseUrl);
    cleanups.unshift(() => stack.stop());

    const source = readOperations();
    const examples: OperationExample[] = [];
    for (const operation of operations) {
      const variables = EXAMPLE_VARIABLES[operation.name] ?? {};
      const response = await fetch(stack.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: source, variables, operationName: operation.name }),
      });
      const body = (await response.json()) as { data?: Record<string, unknown> | null; errors?: unknown[] };
      if (response.status !== 200 || body.errors || !body.data) {
        throw new Error(`example ${operation.name} failed (HTTP ${response.status}): ${JSON.stringify(body.errors ?? body)}`);
      }
      const empty = emptyParts(body.data);
      if (empty.length > 0) throw new Error(`example ${operation.name} shows nothing at ${empty.join(', ')}: its variables no longer fit the fake's data`);
      examples.push({ ...operation, variables, response: { data: freezeWallClock(body.data) as Record<string, unknown> } });
      log(`example ${operation.name}: ok`);
    }
    return examples;
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}
