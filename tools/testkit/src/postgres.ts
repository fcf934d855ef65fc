import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedServer } from '@cryptoagg/db';
import pg from 'pg';
import { freePort } from './ports.js';

export interface ScratchPostgres {
  /** the `cryptoagg` database on the server */
  url: string;
  /** stops the server but keeps its data, for an outage: resume() brings it back on the same port */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** stops the server and removes its data */
  stop(): Promise<void>;
}

/** A throwaway embedded PostgreSQL server on a free port, its data in a temporary folder that stop() removes. */
export async function startScratchPostgres(label = 'pg'): Promise<ScratchPostgres> {
  const scratch = mkdtempSync(path.join(tmpdir(), `cryptoagg-${label}-`));
  // As root, the embedded server runs as the `postgres` user, which must reach its data folder.
  chmodSync(scratch, 0o755);
  const remove = () => rmSync(scratch, { recursive: true, force: true });
  try {
    const port = await freePort();
    // Persistent, so that a paused server keeps its data; stop() removes the whole folder.
    const start = () => startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), port });
    let server: EmbeddedServer | undefined = await start();
    const pause = async () => {
      await server?.stop();
      server = undefined;
    };
    return {
      url: server.url,
      pause,
      resume: async () => {
        server ??= await start();
      },
      stop: async () => {
        try {
          await pause();
        } finally {
          remove();
        }
      },
    };
  } catch (error) {
    remove();
    throw error;
  }
}

async function admin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface CreateDatabaseOptions {
  /**
   * 'C': created as CloudNativePG creates production databases (template0, UTF8, LOCALE 'C'), where
   * ILIKE, lower() and ordering are byte-wise. Unset: the server's default locale.
   */
  locale?: 'C';
}

/** A fresh, empty database on the server of `adminUrl`, named after `label`; drop() removes it, connections and all. */
export async function createDatabase(adminUrl: string, label: string, { locale }: CreateDatabaseOptions = {}): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${label.replace(/\W/g, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const options = locale === 'C' ? ` template template0 encoding 'UTF8' locale 'C'` : '';
  await admin(adminUrl, (client) => client.query(`create database "${name}"${options}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin(adminUrl, (client) => client.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

/** A private database for one run (a benchmark, the soak, the docs examples), dropped by stop(). */
export interface ScratchDatabase {
  url: string;
  /** where it lives, for reports */
  server: 'DATABASE_URL' | 'embedded';
  stop(): Promise<void>;
}

/** A fresh database on `adminUrl`'s server (DATABASE_URL) or, without one, on a throwaway embedded PostgreSQL. */
export async function scratchDatabase(adminUrl: string | undefined, label = 'scratch'): Promise<ScratchDatabase> {
  if (!adminUrl) {
    const server = await startScratchPostgres(label);
    return { url: server.url, server: 'embedded', stop: () => server.stop() };
  }
  const database = await createDatabase(adminUrl, label);
  return { url: database.url, server: 'DATABASE_URL', stop: () => database.drop() };
}

/** The server's version and the settings that shape bulk-load and query numbers, for benchmark reports. */
export async function serverInfo(url: string): Promise<Record<string, string>> {
  return admin(url, async (client) => {
    const { rows } = await client.query<{ name: string; setting: string }>(
      `select 'version' as name, current_setting('server_version') as setting
       union all
       select name, current_setting(name) from pg_settings
        where name in ('shared_buffers', 'work_mem', 'max_wal_size', 'synchronous_commit', 'jit', 'max_parallel_workers_per_gather')`,
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  });
}
