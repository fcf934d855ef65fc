import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '@cryptoagg/db';
import { freePort } from '@cryptoagg/testkit';
import pg from 'pg';

/**
 * A private database for one benchmark, dropped at the end: a fresh database
 * on DATABASE_URL's server, or (without it) a throwaway embedded PostgreSQL,
 * as bench/lib/stack.ts does for the whole stack.
 */
export interface PrivateDatabase {
  url: string;
  /** where it lives, for the report */
  server: 'DATABASE_URL' | 'embedded';
  stop(): Promise<void>;
}

export async function privateDatabase(adminUrl: string | undefined, label = 'bench'): Promise<PrivateDatabase> {
  if (!adminUrl) {
    const scratch = mkdtempSync(path.join(tmpdir(), `cryptoagg-${label}-`));
    chmodSync(scratch, 0o755);
    const server = await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), port: await freePort(), persistent: false });
    return {
      url: server.url,
      server: 'embedded',
      stop: async () => {
        await server.stop();
        rmSync(scratch, { recursive: true, force: true });
      },
    };
  }
  const name = `${label}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    server: 'DATABASE_URL',
    stop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** The server's version and the settings that shape bulk-load and query numbers, for the report. */
export async function serverInfo(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string }>(
      `select 'version' as name, current_setting('server_version') as setting
       union all
       select name, current_setting(name) from pg_settings
        where name in ('shared_buffers', 'work_mem', 'max_wal_size', 'synchronous_commit', 'jit', 'max_parallel_workers_per_gather')`,
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  } finally {
    await client.end();
  }
}
