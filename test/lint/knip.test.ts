/**
 * knip, with this repository's knip.jsonc, fails `npm run lint` on a workspace that imports a package no package.json declares, on a
 * dependency nothing imports and on an export nothing uses. Each case runs knip on a throwaway npm-workspaces repository laid out
 * like this one (a library in packages/, a service in subgraphs/ that imports it).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const KNIP = path.join(repoRoot, 'node_modules', 'knip', 'bin', 'knip.js');

interface KnipIssue {
  name: string;
}

interface KnipFileIssues {
  file: string;
  dependencies: KnipIssue[];
  unlisted: KnipIssue[];
  exports: KnipIssue[];
  files: KnipIssue[];
}

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes the fixture repository: `files` maps a path to its text (objects are written as JSON). */
function fixture(files: Record<string, string | object>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'cryptoagg-knip-'));
  scratch.push(root);
  copyFileSync(path.join(repoRoot, 'knip.jsonc'), path.join(root, 'knip.jsonc'));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  return root;
}

function knip(root: string): { status: number | null; issues: KnipFileIssues[] } {
  const run = spawnSync(process.execPath, [KNIP, '--no-progress', '--no-config-hints', '--reporter', 'json'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const report = JSON.parse(run.stdout) as { issues: KnipFileIssues[] };
  return { status: run.status, issues: report.issues };
}

/** The fixture repository; `library` is packages/lib's package.json dependencies. */
function repository(library: Record<string, string>, padSource: string): Record<string, string | object> {
  return {
    'package.json': { name: 'fixture', private: true, type: 'module', workspaces: ['packages/*', 'subgraphs/*'] },
    'packages/lib/package.json': { name: '@fixture/lib', private: true, type: 'module', exports: { '.': './src/index.ts' }, dependencies: library },
    'packages/lib/src/index.ts': "export { padded } from './pad.js';\n",
    'packages/lib/src/pad.ts': padSource,
    'subgraphs/svc/package.json': { name: '@fixture/svc', private: true, type: 'module', dependencies: { '@fixture/lib': '*' } },
    'subgraphs/svc/src/main.ts': "import { padded } from '@fixture/lib';\n\nprocess.stdout.write(padded('7'));\n",
  };
}

describe('knip with the repository configuration', () => {
  it('fails on an import no package.json declares, an unused dependency and an unused export', () => {
    const pad = [
      "import leftPad from 'left-pad';",
      '',
      'export const padded = (value: string): string => leftPad(value, 4);',
      'export const unusedHelper = (value: string): string => value.trim();',
      '',
    ].join('\n');
    const { status, issues } = knip(fixture(repository({ zod: '4.6.7' }, pad)));
    expect(status).toBe(1);
    const byFile = (file: string) => issues.find((i) => i.file === file);
    expect(byFile('packages/lib/src/pad.ts')?.unlisted.map((i) => i.name)).toEqual(['left-pad']);
    expect(byFile('packages/lib/src/pad.ts')?.exports.map((i) => i.name)).toEqual(['unusedHelper']);
    expect(byFile('packages/lib/package.json')?.dependencies.map((i) => i.name)).toEqual(['zod']);
    expect(issues.flatMap((i) => i.files)).toEqual([]);
  });

  it('passes once the workspace declares what it imports and exports only what is used', () => {
    const pad = "import leftPad from 'left-pad';\n\nexport const padded = (value: string): string => leftPad(value, 4);\n";
    const { status, issues } = knip(fixture(repository({ 'left-pad': '1.3.0' }, pad)));
    expect(issues).toEqual([]);
    expect(status).toBe(0);
  });
});
