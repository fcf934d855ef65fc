import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDb, migrateLatest, startEmbeddedPostgres, type EmbeddedServer } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { freePort, runScript, startRedisServer, startScript, type RedisServer, type RunningProcess } from '@cryptoagg/testkit';
import pg from 'pg';

/**
 * The real system for benchmarks and soaks, on this machine only: a private
 * PostgreSQL (embedded, or a fresh database on DATABASE_URL's server), a
 * private Redis, the fake upstream, one fetcher run, and the two subgraphs and
 * the gateway as separate processes, as in production.
 */
export interface Stack {
  gatewayUrl: string;
  coinsUrl: string;
  pricesUrl: string;
  databaseUrl: string;
  redis: RedisServer;
  fake: FakeCoinGecko;
  processes: Record<'coins' | 'prices' | 'gateway', RunningProcess>;
  stop(): Promise<void>;
}

async function database(adminUrl: string | undefined): Promise<{ url: string; stop(): Promise<void> }> {
  if (!adminUrl) {
    const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-bench-'));
    chmodSync(scratch, 0o755);
    const server: EmbeddedServer = await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), port: await freePort(), persistent: false });
    return {
      url: server.url,
      stop: async () => {
        await server.stop();
        rmSync(scratch, { recursive: true, force: true });
      },
    };
  }
  const name = `bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    stop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

export async function startStack(options: { adminDatabaseUrl?: string | undefined; coins?: number; cache?: boolean; env?: Record<string, string> } = {}): Promise<Stack> {
  const db = await database(options.adminDatabaseUrl);
  const knex = createDb({ url: db.url, poolMax: 1 });
  await migrateLatest(knex);
  await knex.destroy();
  const [fake, redis] = await Promise.all([startFakeCoinGecko({ coins: options.coins ?? 250 }), startRedisServer()]);
  const fetched = await runScript('jobs/fetcher/src/main.ts', {
    DATABASE_URL: db.url,
    COINGECKO_BASE_URL: fake.url,
    COINGECKO_RATE_LIMIT_PER_MIN: '10000',
    FETCH_MAX_COINS: String(options.coins ?? 250),
    FETCH_METADATA_PER_RUN: '250',
    LOG_LEVEL: 'warn',
  });
  if (fetched.code !== 0) throw new Error(`fetcher failed:\n${fetched.stdout}${fetched.stderr}`);
  const [coinsPort, pricesPort, gatewayPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const common = {
    DATABASE_URL: db.url,
    ...(options.cache === false ? {} : { REDIS_URL: redis.url }),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    SUBGRAPH_SECRET: 'bench-subgraph-secret-0123456789',
    ...options.env,
  };
  const processes = {
    coins: startScript('subgraphs/coins/src/main.ts', { ...common, COINS_PORT: String(coinsPort) }),
    prices: startScript('subgraphs/prices/src/main.ts', { ...common, PRICES_PORT: String(pricesPort) }),
    gateway: startScript('gateway/src/main.ts', {
      ...common,
      GATEWAY_PORT: String(gatewayPort),
      COINS_URL: `http://127.0.0.1:${coinsPort}/graphql`,
      PRICES_URL: `http://127.0.0.1:${pricesPort}/graphql`,
    }),
  };
  const stack: Stack = {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    coinsUrl: `http://127.0.0.1:${coinsPort}`,
    pricesUrl: `http://127.0.0.1:${pricesPort}`,
    databaseUrl: db.url,
    redis,
    fake,
    processes,
    stop: async () => {
      for (const p of Object.values(processes)) p.child.kill('SIGTERM');
      await Promise.all(Object.values(processes).map((p) => p.exited));
      await Promise.all([fake.close(), redis.stop()]);
      await db.stop();
    },
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await Promise.all(
      [stack.gatewayUrl, stack.coinsUrl, stack.pricesUrl].map((url) =>
        fetch(`${url}/readyz`).then((r) => r.ok, () => false),
      ),
    );
    if (ready.every(Boolean)) return stack;
    if (Date.now() > deadline) {
      await stack.stop();
      throw new Error(`the stack did not become ready:\n${Object.values(processes).map((p) => p.output()).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** One sample of a service's own /metrics, e.g. process_resident_memory_bytes or nodejs_heap_size_used_bytes. */
export async function serviceMetric(serviceUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}
