import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '@cryptoagg/db';
import type { TestProject } from 'vitest/node';
import { freePort } from './ports.js';
import { startRedisServer } from './redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** server-level URL; each test file creates its own database on it */
    adminDatabaseUrl: string;
    /** empty when no Redis is available (never under CI=true) */
    redisUrl: string;
  }
}

const onPath = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

/**
 * Provides the servers the integration tests talk to: DATABASE_URL / REDIS_URL
 * when set (CI), otherwise a throwaway embedded PostgreSQL and, when Debian's
 * redis-server is installed, a throwaway Redis. Under CI=true a missing Redis
 * is an error, never a skip.
 */
export default async function setup(project: TestProject) {
  const cleanups: (() => Promise<void> | void)[] = [];
  const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-test-'));
  // As root, the embedded server runs as the `postgres` user, which must reach its data folder.
  chmodSync(scratch, 0o755);
  cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));

  let adminDatabaseUrl = process.env.DATABASE_URL ?? '';
  if (!adminDatabaseUrl) {
    const server = await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), port: await freePort(), persistent: false });
    cleanups.unshift(() => server.stop());
    adminDatabaseUrl = server.url;
  }

  let redisUrl = process.env.REDIS_URL ?? '';
  if (!redisUrl && onPath('redis-server')) {
    const redis = await startRedisServer();
    cleanups.unshift(() => redis.stop());
    redisUrl = redis.url;
  }
  if (!redisUrl && process.env.CI === 'true') throw new Error('CI=true but no Redis: set REDIS_URL or install redis-server');

  project.provide('adminDatabaseUrl', adminDatabaseUrl);
  project.provide('redisUrl', redisUrl);
  return async () => {
    for (const cleanup of cleanups) await cleanup();
  };
}
