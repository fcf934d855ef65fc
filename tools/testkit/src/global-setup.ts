import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startScratchPostgres } from './postgres.js';
import { startRedisServer } from './redis.js';
import { readSkips, skipSummary } from './tools.js';

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
  let adminDatabaseUrl = process.env.DATABASE_URL ?? '';
  if (!adminDatabaseUrl) {
    const server = await startScratchPostgres('test');
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

  // Suites skipped for a missing system tool (requireTool) write here; the summary is printed once, after the run's own.
  const skipsDir = mkdtempSync(path.join(tmpdir(), 'cryptoagg-tool-skips-'));
  const toolSkipsFile = path.join(skipsDir, 'skips.jsonl');
  cleanups.unshift(() => {
    const summary = skipSummary(readSkips(toolSkipsFile));
    if (summary !== undefined) process.stdout.write(`\n${summary}\n`);
    rmSync(skipsDir, { recursive: true, force: true });
  });

  project.provide('adminDatabaseUrl', adminDatabaseUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('toolSkipsFile', toolSkipsFile);
  return async () => {
    for (const cleanup of cleanups) await cleanup();
  };
}
