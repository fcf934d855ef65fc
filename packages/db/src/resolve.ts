import path from 'node:path';
import { DATA_DIR } from '@cryptoagg/core';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded.js';

export const EMBEDDED_PORT = 54329;

/**
 * Returns the database URL to use: DATABASE_URL when configured, otherwise an
 * embedded PostgreSQL with its data under `.data/postgres` (the contract's
 * zero-configuration default for `npm start` and `npm run fetch`).
 */
export async function resolveDatabase(databaseUrl: string | undefined, onLog?: (message: string) => void): Promise<EmbeddedServer> {
  if (databaseUrl) return { url: databaseUrl, stop: () => Promise.resolve() };
  return startEmbeddedPostgres({
    dataDir: path.join(DATA_DIR, 'postgres'),
    port: EMBEDDED_PORT,
    ...(onLog ? { onLog } : {}),
  });
}
