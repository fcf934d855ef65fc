import { existsSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded.js';

export const EMBEDDED_PORT = 54329;

/**
 * The repository root (or /app in an image): the nearest folder above this
 * module holding both package.json and schema/. Found by walking up because the
 * module runs from packages/db/src in development and from a bundle in dist/
 * in a container; `.data/`, schema/ and the supergraph live relative to it.
 */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'schema'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no project root (package.json + schema/) above ${from}`);
  }
}

export const REPO_ROOT = findRoot(import.meta.dirname);

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
