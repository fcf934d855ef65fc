import { rmSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { build, type Plugin } from 'esbuild';
import { ENTRY_POINTS } from './entry-points.js';

/*
 * `npm run build`: one ESM bundle per container entry point in dist/, plain
 * JavaScript for `node` (no tsx at run time). Our workspace packages are
 * bundled in; every npm dependency stays an import of node_modules, where the
 * image installs production dependencies. esbuild rather than `tsc` emit: the
 * workspaces export their TypeScript sources for development, and a bundle
 * needs no second set of package exports for built files. The bundles read
 * schema/ (SDL, subgraph manifest, contract operations) and the supergraph at
 * run time, from the root they find above dist/: the image copies both.
 */

const npmPackagesExternal: Plugin = {
  name: 'npm-packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@cryptoagg/') ? undefined : { path: args.path, external: true }));
  },
};

const outdir = path.join(REPO_ROOT, 'dist');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([name, entry]) => [name, path.join(REPO_ROOT, entry)])),
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  sourcemap: true,
  plugins: [npmPackagesExternal],
  logLevel: 'warning',
});
process.stdout.write(`built ${Object.keys(ENTRY_POINTS).join(', ')} into dist/\n`);
