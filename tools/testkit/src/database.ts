import { randomBytes } from 'node:crypto';
import { createDb, migrateLatest, type Knex } from '@cryptoagg/db';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  url: string;
  db: Knex;
  destroy(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabaseOptions {
  /** false: an empty database, for migration tests */
  migrate?: boolean;
  /**
   * 'C': created as CloudNativePG creates production databases (template0, UTF8, LOCALE 'C'), where
   * ILIKE, lower() and ordering are byte-wise. Unset: the server's default locale.
   */
  locale?: 'C';
}

/** A fresh database of its own for one test file (so files run in parallel), migrated unless `migrate: false`. */
export async function createTestDatabase(label: string, { migrate = true, locale }: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `t_${label.replace(/\W/g, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const options = locale === 'C' ? ` template template0 encoding 'UTF8' locale 'C'` : '';
  await admin((client) => client.query(`create database "${name}"${options}`));
  const url = new URL(inject('adminDatabaseUrl'));
  url.pathname = `/${name}`;
  const db = createDb({ url: url.toString(), poolMax: 5, applicationName: `test-${label}` });
  if (migrate) await migrateLatest(db);
  return {
    url: url.toString(),
    db,
    destroy: async () => {
      await db.destroy();
      await admin((client) => client.query(`drop database if exists "${name}" with (force)`));
    },
  };
}
