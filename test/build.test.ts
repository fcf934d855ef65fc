import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { createTestDatabase, freePort, type TestDatabase } from '@cryptoagg/testkit';
import { serviceCommand } from '@cryptoagg/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');

/**
 * The image's /app, assembled in a scratch folder as the Dockerfile's runtime
 * stage copies it (node_modules linked rather than copied): the bundles run
 * there find only what the image holds, such as schema/ with the subgraph
 * manifest and the supergraph, and nothing else of the repository.
 */
function imageLayout(): string {
  const app = mkdtempSync(path.join(tmpdir(), 'cryptoagg-image-'));
  const runtime = /^FROM \S+ AS runtime$([\s\S]*?)^FROM /m.exec(dockerfile)?.[1] ?? '';
  for (const [, from, source, target] of runtime.matchAll(/^COPY (?:--from=(\S+) )?(\S+) (\S+)$/gm)) {
    // A file of another stage is the repository's own after `npm ci` and `npm run build` (/app/dist -> dist).
    const origin = path.join(REPO_ROOT, from === undefined ? source! : path.relative('/app', source!));
    const destination = path.join(app, target!);
    if (path.basename(origin) === 'node_modules') symlinkSync(origin, destination);
    else cpSync(origin, destination, { recursive: true });
  }
  return app;
}
let app: string;

/** Runs a built bundle with plain node, as the image does (no tsx, no TypeScript), in the image's layout. */
function runBundle(name: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(app, 'dist', `${name}.js`)], {
      cwd: app,
      env: { PATH: process.env.PATH, ...env },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

let fake: FakeCoinGecko;
let t: TestDatabase;
beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 10 }), createTestDatabase('build', { migrate: false })]);
  execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'tools/stack/src/build.ts')], { cwd: REPO_ROOT });
  app = imageLayout();
});
afterAll(async () => {
  await Promise.all([fake.close(), t.destroy()]);
  rmSync(app, { recursive: true, force: true });
});

describe('the compiled bundles the images run', () => {
  it('run in what the runtime stage copies: the bundles, production dependencies, schema/ (SDL, subgraph manifest, contract operations) and the supergraph', () => {
    expect(readdirSync(app).sort()).toEqual(['dist', 'gateway', 'node_modules', 'package.json', 'schema']);
    for (const file of [
      'schema/subgraphs.yaml',
      'schema/coins.graphql',
      'schema/prices.graphql',
      'schema/contract/operations.graphql',
      'gateway/supergraph.graphql',
    ]) {
      expect(existsSync(path.join(app, file)), file).toBe(true);
    }
  });

  it('migrate and fetcher run to completion with plain node', async () => {
    const migrate = await runBundle('migrate', { DATABASE_URL: t.url });
    expect(migrate.code, migrate.output).toBe(0);
    const fetch = await runBundle('fetcher', {
      DATABASE_URL: t.url,
      COINGECKO_BASE_URL: fake.url,
      FETCH_MAX_COINS: '10',
      MIGRATE_ON_START: 'false',
      FETCH_METADATA_PER_RUN: '0',
      EXCHANGE_SOURCES: 'none',
    });
    expect(fetch.code, fetch.output).toBe(0);
    expect(fetch.output).toContain('fetch run succeeded');
    expect(await t.db('latest_quotes').count<{ count: number }[]>('* as count')).toEqual([{ count: 30 }]);
  });

  it('the gateway and both subgraphs serve from their bundles, run as their images run them, and stop cleanly on SIGTERM', async () => {
    const [coinsPort, pricesPort, gatewayPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const base = { DATABASE_URL: t.url, HOST: '127.0.0.1', NODE_ENV: 'production', SUBGRAPH_SECRET: 'bundle-test-secret-1234' };
    const processes = [
      spawn(process.execPath, serviceCommand('coins').slice(1), { cwd: app, env: { PATH: process.env.PATH, ...base, COINS_PORT: String(coinsPort) } }),
      spawn(process.execPath, serviceCommand('prices').slice(1), { cwd: app, env: { PATH: process.env.PATH, ...base, PRICES_PORT: String(pricesPort) } }),
      spawn(process.execPath, serviceCommand('gateway').slice(1), {
        cwd: app,
        env: {
          PATH: process.env.PATH,
          ...base,
          GATEWAY_PORT: String(gatewayPort),
          COINS_URL: `http://127.0.0.1:${coinsPort}/graphql`,
          PRICES_URL: `http://127.0.0.1:${pricesPort}/graphql`,
        },
      }),
    ];
    const exits = processes.map((p) => new Promise<number | null>((resolve) => p.on('exit', resolve)));
    try {
      const ask = async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${gatewayPort}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: '{ coin(id: "bitcoin") { name quote { currency } } }' }),
          });
          return (await res.json()) as unknown;
        } catch {
          return undefined;
        }
      };
      await expect.poll(ask, { timeout: 20_000, interval: 200 }).toEqual({ data: { coin: { name: 'Bitcoin', quote: { currency: 'usd' } } } });
    } finally {
      for (const p of processes) p.kill('SIGTERM');
    }
    expect(await Promise.all(exits)).toEqual([0, 0, 0]);
  });
});

describe('the Dockerfile', () => {
  const stages = [...dockerfile.matchAll(/^FROM (\S+) AS (\S+)$/gm)].map((m) => [m[1], m[2]]);

  it('has a target per service on a pinned node:24 slim base, running compiled JS as a non-root user', () => {
    expect(stages.map(([, name]) => name)).toEqual([
      'base',
      'manifests',
      'build',
      'production-dependencies',
      'runtime',
      'gateway',
      'coins',
      'prices',
      'fetcher',
      'migrate',
    ]);
    // The tag, and the digest .github/workflows/pin-images.yml adds.
    for (const [base, name] of stages) if (name === 'base') expect(base).toMatch(/^node:24\.\d+\.\d+-slim(@sha256:[0-9a-f]{64})?$/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    const commands = [...dockerfile.matchAll(/^CMD (.+)$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
    // The services with their heap bounds, the same command the benchmark runs (tools/testkit, bundles: true).
    expect(commands).toEqual(['gateway', 'coins', 'prices', 'fetcher', 'migrate'].map((name) => serviceCommand(name)));
    expect(commands[0]).toEqual(['node', '--max-old-space-size=152', '--max-semi-space-size=8', '--enable-source-maps', 'dist/gateway.js']);
    expect(dockerfile).not.toMatch(/\btsx\b/);
  });

  it('keeps local state and dependencies out of the build context', () => {
    const ignored = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.git', '**/node_modules', '.data', 'dist']) expect(ignored).toContain(entry);
  });
});
