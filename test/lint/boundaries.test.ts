/**
 * The import direction, as `npm run lint` enforces it (eslint.config.js): libraries (packages/) import only libraries, services
 * (subgraphs/, gateway/, jobs/) import only libraries, tools (tools/) import libraries and services, and tests and benchmarks import
 * anything. Each case lints a few lines placed virtually in a folder of this repository with the repository's own configuration.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '../..');

const LIBRARY_IMPORTS_SERVICE = 'Libraries (packages/) never import services: move the shared code into a library.';
const LIBRARY_IMPORTS_TOOL = 'Libraries (packages/) never import tools (tools/): tools sit above libraries and services.';
const SERVICE_IMPORTS_SERVICE = 'Services never import each other: share code through a library in packages/.';
const SERVICE_IMPORTS_TOOL = 'Services never import tools (tools/): tools sit above libraries and services.';
const IMPORTS_TEST_CODE = 'Libraries, services and tools never import tests or benchmarks (test/, bench/).';

// One rule family at a time, and without type information: the virtual files are in no tsconfig, and the type-checked rules are not
// what this test is about.
const linterFor = (rules: string[]) =>
  new ESLint({ cwd: repoRoot, overrideConfig: tseslint.configs.disableTypeChecked as Linter.Config, ruleFilter: ({ ruleId }) => rules.includes(ruleId) });
const layers = linterFor(['import-x/no-restricted-paths', 'import-x/no-unresolved']);
const declarations = linterFor(['import-x/no-extraneous-dependencies']);

interface Hit {
  line: number;
  rule: string | null;
  severity: number;
  message: string;
}

async function lint(file: string, code: string, eslint = layers): Promise<Hit[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(repoRoot, file) });
  return (result?.messages ?? []).map((m) => ({ line: m.line, rule: m.ruleId, severity: m.severity, message: m.message }));
}

const direction = (line: number, specifier: string, why: string): Hit => ({
  line,
  rule: 'import-x/no-restricted-paths',
  severity: 2,
  message: `Unexpected path "${specifier}" imported in restricted zone. ${why}`,
});

/** A relative specifier from `file` to the module a workspace exports (`../../gateway/src/index.js`), as NodeNext sources write it. */
function relativeTo(file: string, workspace: string): string {
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, workspace, 'package.json'), 'utf8')) as { exports: Record<string, string> };
  const entry = path.join(workspace, manifest.exports['.'] ?? 'missing');
  return path.relative(path.dirname(file), entry).replace(/\.ts$/, '.js');
}

describe('libraries (packages/) never import services or tools', () => {
  it('reports a library importing a service by package name and by relative path, in every import form', async () => {
    const file = 'packages/core/src/lint-fixture.ts';
    const gateway = relativeTo(file, 'gateway');
    expect(gateway).toBe('../../../gateway/src/index.js');
    const code = [
      "import { startGateway } from '@cryptoagg/gateway';",
      `import type { GatewayConfig } from '${gateway}';`,
      "export { startCoinsSubgraph } from '@cryptoagg/coins';",
      "export const prices = await import('@cryptoagg/prices');",
      "import { db } from '@cryptoagg/db';",
    ].join('\n');
    expect(await lint(file, code)).toEqual([
      direction(1, '@cryptoagg/gateway', LIBRARY_IMPORTS_SERVICE),
      direction(2, gateway, LIBRARY_IMPORTS_SERVICE),
      direction(3, '@cryptoagg/coins', LIBRARY_IMPORTS_SERVICE),
      direction(4, '@cryptoagg/prices', LIBRARY_IMPORTS_SERVICE),
    ]);
  });

  it('reports a library importing a tool by package name and by relative path', async () => {
    const file = 'packages/db/src/lint-fixture.ts';
    const testkit = relativeTo(file, 'tools/testkit');
    expect(testkit).toBe('../../../tools/testkit/src/index.js');
    expect(await lint(file, `import { freePort } from '@cryptoagg/testkit';\nimport { createTestDatabase } from '${testkit}';`)).toEqual([
      direction(1, '@cryptoagg/testkit', LIBRARY_IMPORTS_TOOL),
      direction(2, testkit, LIBRARY_IMPORTS_TOOL),
    ]);
  });

  it('reports a library importing tests or benchmarks', async () => {
    const code = "import { lint } from '../../../test/lint/boundaries.test.js';\nimport '../../../bench/run.js';";
    expect(await lint('packages/http/src/lint-fixture.ts', code)).toEqual([
      direction(1, '../../../test/lint/boundaries.test.js', IMPORTS_TEST_CODE),
      direction(2, '../../../bench/run.js', IMPORTS_TEST_CODE),
    ]);
  });

  it('lets a library import another library, by package name or relative path', async () => {
    expect(await lint('packages/graphql/src/lint-fixture.ts', "import { db } from '@cryptoagg/db';\nimport { core } from '../../core/src/index.js';")).toEqual(
      [],
    );
  });
});

describe('services never import each other or tools', () => {
  it('reports a subgraph importing the other subgraph by package name and by relative path', async () => {
    const file = 'subgraphs/coins/src/lint-fixture.ts';
    const prices = relativeTo(file, 'subgraphs/prices');
    expect(prices).toBe('../../prices/src/index.js');
    expect(await lint(file, `import { startPricesSubgraph } from '@cryptoagg/prices';\nimport { pricesConfigSchema } from '${prices}';`)).toEqual([
      direction(1, '@cryptoagg/prices', SERVICE_IMPORTS_SERVICE),
      direction(2, prices, SERVICE_IMPORTS_SERVICE),
    ]);
  });

  it('reports the gateway importing a subgraph and the fetcher importing the gateway', async () => {
    expect(await lint('gateway/src/lint-fixture.ts', "import { startCoinsSubgraph } from '@cryptoagg/coins';")).toEqual([
      direction(1, '@cryptoagg/coins', SERVICE_IMPORTS_SERVICE),
    ]);
    const file = 'jobs/fetcher/src/lint-fixture.ts';
    const gateway = relativeTo(file, 'gateway');
    expect(gateway).toBe('../../../gateway/src/index.js');
    expect(await lint(file, `import { startGateway } from '@cryptoagg/gateway';\nimport { composeSupergraph } from '${gateway}';`)).toEqual([
      direction(1, '@cryptoagg/gateway', SERVICE_IMPORTS_SERVICE),
      direction(2, gateway, SERVICE_IMPORTS_SERVICE),
    ]);
  });

  it('reports a service importing a tool by package name and by relative path', async () => {
    const file = 'gateway/src/lint-fixture.ts';
    const fake = relativeTo(file, 'tools/fake-upstream');
    expect(fake).toBe('../../tools/fake-upstream/src/index.js');
    expect(await lint(file, `import { startFakeCoinGecko } from '@cryptoagg/fake-upstream';\nimport { freePort } from '${fake}';`)).toEqual([
      direction(1, '@cryptoagg/fake-upstream', SERVICE_IMPORTS_TOOL),
      direction(2, fake, SERVICE_IMPORTS_TOOL),
    ]);
    expect(await lint('subgraphs/prices/src/lint-fixture.ts', "import { freePort } from '@cryptoagg/testkit';")).toEqual([
      direction(1, '@cryptoagg/testkit', SERVICE_IMPORTS_TOOL),
    ]);
  });

  it('lets a service import libraries', async () => {
    const code =
      "import { db } from '@cryptoagg/db';\nimport { badInput } from '@cryptoagg/graphql';\nimport { x } from '../../../packages/cache/src/index.js';";
    expect(await lint('subgraphs/coins/src/lint-fixture.ts', code)).toEqual([]);
  });
});

describe('tools, tests and benchmarks', () => {
  it('lets a tool import libraries, services and other tools', async () => {
    const code = "import { startGateway } from '@cryptoagg/gateway';\nimport { db } from '@cryptoagg/db';\nimport { freePort } from '@cryptoagg/testkit';";
    expect(await lint('tools/docs/src/lint-fixture.ts', code)).toEqual([]);
  });

  it('lets tests and benchmarks import anything', async () => {
    const code = "import '@cryptoagg/gateway';\nimport '@cryptoagg/coins';\nimport '@cryptoagg/testkit';\nimport '@cryptoagg/db';";
    for (const file of [
      'test/lint-fixture.test.ts',
      'packages/db/test/lint-fixture.test.ts',
      'subgraphs/coins/test/lint-fixture.test.ts',
      'bench/lint-fixture.ts',
    ]) {
      expect(await lint(file, code), file).toEqual([]);
    }
  });

  it('reports an import the layers cannot check because it does not resolve', async () => {
    // no-restricted-paths skips what it cannot resolve; no-unresolved makes that a failure instead of a hole in the layers.
    expect(await lint('packages/core/src/lint-fixture.ts', "import { x } from '@cryptoagg/no-such-workspace';")).toEqual([
      { line: 1, rule: 'import-x/no-unresolved', severity: 2, message: "Unable to resolve path to module '@cryptoagg/no-such-workspace'." },
    ]);
  });
});

describe('each workspace declares what it imports', () => {
  it("reports a package the nearest package.json does not list, even when the root's hoisted devDependencies provide it", async () => {
    const missing = (line: number, name: string): Hit => ({
      line,
      rule: 'import-x/no-extraneous-dependencies',
      severity: 2,
      message: `'${name}' should be listed in the project's dependencies. Run 'npm i ${name}' to add it`,
    });
    expect(await lint('packages/core/src/lint-fixture.ts', "import { ESLint } from 'eslint';", declarations)).toEqual([missing(1, 'eslint')]);
    expect(await lint('packages/db/test/lint-fixture.test.ts', "import { ESLint } from 'eslint';", declarations)).toEqual([missing(1, 'eslint')]);
    expect(await lint('tools/stack/src/lint-fixture.ts', "import { ESLint } from 'eslint';", declarations)).toEqual([missing(1, 'eslint')]);
    const declared = "import knex from 'knex';\nimport { parseConfig } from '@cryptoagg/core';";
    expect(await lint('packages/db/src/lint-fixture.ts', declared, declarations)).toEqual([]);
  });

  it("lets a workspace's tests import its devDependencies, and reports its runtime code doing so (the images omit them)", async () => {
    const devOnly = "import { createTestDatabase } from '@cryptoagg/testkit';\nimport { it } from 'vitest';";
    expect(await lint('packages/db/test/lint-fixture.test.ts', devOnly, declarations)).toEqual([]);
    const devDependency = (line: number, name: string): Hit => ({
      line,
      rule: 'import-x/no-extraneous-dependencies',
      severity: 2,
      message: `'${name}' should be listed in the project's dependencies, not devDependencies.`,
    });
    expect(await lint('packages/db/src/lint-fixture.ts', devOnly, declarations)).toEqual([devDependency(1, '@cryptoagg/testkit'), devDependency(2, 'vitest')]);
  });
});
