import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './workflow.js';

interface Manifest {
  name: string;
  workspaces?: string[];
  exports?: Record<string, string>;
}

const manifest = (dir: string) => JSON.parse(readFileSync(path.join(repoRoot, dir, 'package.json'), 'utf8')) as Manifest;

/** The workspace folders the root manifest names (`packages/*` or a plain folder). */
const workspaces = (manifest('.').workspaces ?? []).flatMap((pattern) =>
  pattern.endsWith('/*')
    ? readdirSync(path.join(repoRoot, pattern.slice(0, -2)), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(path.join(repoRoot, pattern.slice(0, -2), entry.name, 'package.json')))
        .map((entry) => `${pattern.slice(0, -2)}/${entry.name}`)
    : [pattern],
);

/** What a workspace exports that is not there: `<name> exports "<subpath>" from <file>, which does not exist`. */
const missingExports = (dir: string, exports: Record<string, string> | undefined) =>
  Object.entries(exports ?? {})
    .filter(([, file]) => !existsSync(path.join(repoRoot, dir, file)))
    .map(([subpath, file]) => `${dir} exports "${subpath}" from ${file}, which does not exist`);

describe('workspace manifests', () => {
  it('export only files that exist', () => {
    expect(workspaces).toEqual(expect.arrayContaining(['packages/core', 'packages/metrics', 'jobs/fetcher', 'gateway', 'tools/testkit']));
    expect(workspaces.flatMap((dir) => missingExports(dir, manifest(dir).exports))).toEqual([]);
    // And the check can fail: an entry point that is not there is named.
    expect(missingExports('jobs/fetcher', { '.': './src/index.ts' })).toEqual(['jobs/fetcher exports "." from ./src/index.ts, which does not exist']);
  });
});
