import { readContractOperations } from '@cryptoagg/core';
import { startFakeCoinGecko } from '@cryptoagg/fake-upstream';
import { FETCHER_MAIN } from '@cryptoagg/stack';
import { runScript, startApi, startScratchPostgres } from '@cryptoagg/testkit';
import { Kind, parse } from 'graphql';

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

export function contractOperations(source: string = readContractOperations()): ContractOperation[] {
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
async function runFetcher(env: Record<string, string>): Promise<void> {
  const run = await runScript(FETCHER_MAIN, env);
  if (run.code !== 0) throw new Error(`the fetcher exited with ${run.code}:\n${run.stdout}${run.stderr}`);
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
      log('starting a throwaway embedded PostgreSQL');
      const server = await startScratchPostgres('docs');
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
    // The subgraphs and the gateway on that database, wired as in production.
    const stack = await startApi({ DATABASE_URL: databaseUrl });
    cleanups.unshift(() => stack.stop());

    const source = readContractOperations();
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
