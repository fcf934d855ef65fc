import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';

/**
 * What `npm start` says before it starts the embedded PostgreSQL: the first
 * start (no cluster in `dataDir` yet) runs initdb, which takes a while and is
 * otherwise silent.
 */
export function embeddedDatabaseMessage(dataDir: string): string {
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) return 'initialising the embedded PostgreSQL in .data/ (first start only, ~10 s)';
  return `starting the embedded PostgreSQL (data in ${path.relative(REPO_ROOT, dataDir)}/)`;
}
