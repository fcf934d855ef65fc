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

/**
 * V8's heap bounds of the long-running services, as their images run them (Dockerfile CMD; test/build.test.ts keeps the
 * two equal). Left to itself, V8 sizes the heap from the machine's memory and collects lazily: on a 24 GB host a
 * gateway under load reached 500 MB resident, most of it garbage. Bounded semi-spaces (8 MB) and an old-space bound make collection
 * keep pace (bench/findings.md, memory). The bounds sit well above
 * the live heap (the response caches included: 64 MiB gateway, 32 MiB subgraph) and below the containers' limits.
 */
const HEAP_FLAGS = { gateway: ['--max-old-space-size=152', '--max-semi-space-size=8'], subgraph: ['--max-old-space-size=112', '--max-semi-space-size=8'] };

/** The command a service's image runs: node with its heap bounds and source maps on its bundle (dist/<name>.js). */
export function serviceCommand(name: string): string[] {
  const flags = name === 'gateway' ? HEAP_FLAGS.gateway : subgraphs().some((s) => s.name === name) ? HEAP_FLAGS.subgraph : [];
  return ['node', ...flags, '--enable-source-maps', `dist/${name}.js`];
}
