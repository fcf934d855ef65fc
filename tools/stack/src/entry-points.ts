import { subgraphs } from '@cryptoagg/core';

export const GATEWAY_MAIN = 'gateway/src/main.ts';
export const FETCHER_MAIN = 'jobs/fetcher/src/main.ts';
const MIGRATE_MAIN = 'packages/db/src/cli/migrate.ts';

/**
 * Every process entry point, relative to the repository root, by the name of
 * its bundle (dist/<name>.js) and image target: the gateway, each subgraph of
 * the manifest (schema/subgraphs.yaml), the fetcher and the migrations; and
 * the backfill, which runs in the fetcher's image.
 */
export const ENTRY_POINTS: Readonly<Record<string, string>> = {
  gateway: GATEWAY_MAIN,
  ...Object.fromEntries(subgraphs().map((s) => [s.name, s.main])),
  fetcher: FETCHER_MAIN,
  migrate: MIGRATE_MAIN,
  // No image of its own: the backfill Job (gitops/jobs/backfill.yaml) runs dist/backfill.js in the fetcher's image.
  backfill: 'jobs/fetcher/src/backfill-main.ts',
};
