import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { describe, expect, it } from 'vitest';

/**
 * GraphiQL's bundle holds ~27 MB of heap once loaded: a gateway with the IDE off (production's default) must never
 * load it. A fresh process (this one may have loaded it already) reports every module it resolves.
 */
function loadsGraphiql(script: string): boolean {
  const hook = `import { registerHooks } from 'node:module';
registerHooks({ resolve(specifier, context, next) { if (specifier.includes('render-graphiql')) process.stdout.write('LOADED GRAPHIQL\\n'); return next(specifier, context); } });`;
  const out = execFileSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, '--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    },
  );
  return out.includes('LOADED GRAPHIQL');
}

describe('GraphiQL is loaded only when the IDE is on', () => {
  const server = path.join(REPO_ROOT, 'gateway/src/server.ts');
  const ide = path.join(REPO_ROOT, 'gateway/src/ide.ts');

  it('importing the gateway does not load it', () => {
    expect(loadsGraphiql(`await import(${JSON.stringify(server)});`)).toBe(false);
  });

  it('rendering the IDE page does', () => {
    expect(loadsGraphiql(`const { idePage } = await import(${JSON.stringify(ide)}); await idePage('query A { a }');`)).toBe(true);
  });
});
