import { createDb, migrateLatest, type Knex } from '@cryptoagg/db';
import { inject } from 'vitest';
import { createDatabase, type CreateDatabaseOptions } from './postgres.js';

export interface TestDatabase {
  url: string;
  db: Knex;
  destroy(): Promise<void>;
}

export interface TestDatabaseOptions extends CreateDatabaseOptions {
  /** false: an empty database, for migration tests */
  migrate?: boolean;
}

/** A fresh database of its own for one test file (so files run in parallel), migrated unless `migrate: false`. */
export async function createTestDatabase(label: string, { migrate = true, locale }: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const database = await createDatabase(inject('adminDatabaseUrl'), `t_${label}`, locale ? { locale } : {});
  const db = createDb({ url: database.url, poolMax: 5, applicationName: `test-${label}` });
  if (migrate) await migrateLatest(db);
  return {
    url: database.url,
    db,
    destroy: async () => {
      await db.destroy();
      await database.drop();
    },
  };
}
