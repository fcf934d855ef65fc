import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { subgraph } from '@cryptoagg/core';
import { freePort, startStack } from '@cryptoagg/testkit';
import autocannon from 'autocannon';

// Profiles the prices subgraph answering a 100-coin markets page; prints the top self-time functions.
const stack = await startStack({ env: { NODE_ENV: 'development', SUBGRAPH_SECRET: '', RESPONSE_CACHE_TTL_MS: '0' } });
const dir = mkdtempSync(path.join(tmpdir(), 'prof-'));
const port = await freePort();
const prices = subgraph('prices');
const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', prices.main], {
  env: {
    PATH: process.env.PATH,
    DATABASE_URL: stack.databaseUrl,
    REDIS_URL: stack.redis.url,
    [prices.port.variable]: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  },
  stdio: 'inherit',
});
const url = `http://127.0.0.1:${port}/graphql`;
for (;;) {
  if (
    await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
  )
    break;
  await new Promise((r) => setTimeout(r, 200));
}
const body = JSON.stringify({
  query:
    '{ markets(currency:"usd", first:100) { totalCount pageInfo{hasNextPage endCursor} edges { cursor node { id quote(currency:"usd"){ currency price marketCap totalVolume high24h low24h priceChange24h priceChangePercentage24h circulatingSupply lastUpdated fetchedAt } } } } }',
});
const r = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 8, duration: 5 });
process.stdout.write(`${Math.round(r.requests.average)} rps\n`);
child.kill('SIGTERM');
await new Promise((resolve) => child.on('exit', resolve));
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number }[];
};
const total = profile.nodes.reduce((s, n) => s + n.hitCount, 0);
const byFn = new Map<string, number>();
for (const n of profile.nodes) {
  const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/work\/main\//, '')}:${n.callFrame.lineNumber}`;
  byFn.set(key, (byFn.get(key) ?? 0) + n.hitCount);
}
for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stdout.write(`${((100 * v) / total).toFixed(1)}% ${k}\n`);
await stack.stop();
