import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded.js';

export const EMBEDDED_PORT = 54329;

/** The repository root: `.data/` lives there whichever workspace a process starts from. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

/**
 * Returns the database URL to use: DATABASE_URL when configured, otherwise an
 * embedded PostgreSQL with its data under `.data/postgres` (the contract's
 * zero-configuration default for `npm start` and `npm run fetch`).
 */
export async function resolveDatabase(databaseUrl: string | undefined, onLog?: (message: string) => void): Promise<EmbeddedServer> {
  if (databaseUrl) return { url: databaseUrl, stop: () => Promise.resolve() };
  return startEmbeddedPostgres({
    dataDir: path.join(REPO_ROOT, '.data', 'postgres'),
    port: EMBEDDED_PORT,
    ...(onLog ? { onLog } : {}),
  });
}
