import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { findTool, installCommand, requireTool, skipSummary, type ToolSkip } from '@cryptoagg/testkit/tools';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

let scratch: string;
/** a PATH entry holding an executable `kubectl` stub */
let withKubectl: string;
/** a PATH entry holding a `kubectl` that is not executable, and nothing else */
let notExecutable: string;
/** a PATH entry with node alone: a machine with only Node */
let nodeOnly: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-tools-'));
  [withKubectl, notExecutable, nodeOnly] = ['with', 'plain', 'node'].map((name) => path.join(scratch, name)) as [string, string, string];
  for (const dir of [withKubectl, notExecutable, nodeOnly]) mkdirSync(dir);
  writeFileSync(path.join(withKubectl, 'kubectl'), '#!/bin/sh\necho "Client Version: v1.32.0"\n');
  chmodSync(path.join(withKubectl, 'kubectl'), 0o755);
  writeFileSync(path.join(notExecutable, 'kubectl'), '#!/bin/sh\n');
  chmodSync(path.join(notExecutable, 'kubectl'), 0o644);
  symlinkSync(process.execPath, path.join(nodeOnly, 'node'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('requireTool', () => {
  const check = (env: NodeJS.ProcessEnv, options: { provided?: boolean } = {}) => {
    const skips: ToolSkip[] = [];
    const runs = requireTool('kubectl', { env, record: (skip) => skips.push(skip), ...options });
    return { runs, skips };
  };

  it('runs the suite when the tool is on PATH, and records nothing', () => {
    expect(findTool('kubectl', { PATH: `${nodeOnly}:${withKubectl}` })).toBe(path.join(withKubectl, 'kubectl'));
    expect(check({ PATH: `${nodeOnly}:${withKubectl}` })).toEqual({ runs: true, skips: [] });
  });

  it('skips it outside CI when the tool is missing or not executable, recording this file and the tool', () => {
    const skipped = { runs: false, skips: [{ file: 'tools/testkit/test/tools.test.ts', tool: 'kubectl' }] };
    expect(check({ PATH: nodeOnly })).toEqual(skipped);
    expect(check({ PATH: notExecutable })).toEqual(skipped);
    expect(check({ PATH: '' })).toEqual(skipped);
    expect(check({ PATH: nodeOnly, CI: 'false' })).toEqual(skipped);
  });

  it('never skips with CI=true: the suite runs and fails as before', () => {
    expect(check({ PATH: nodeOnly, CI: 'true' })).toEqual({ runs: true, skips: [] });
  });

  it('runs when the need is met otherwise (a Redis at REDIS_URL)', () => {
    expect(check({ PATH: nodeOnly }, { provided: true })).toEqual({ runs: true, skips: [] });
  });
});

describe('the summary', () => {
  it('names each tool with its suites and the one command that installs them', () => {
    expect(
      skipSummary([
        { file: 'test/gitops/manifests.test.ts', tool: 'kubectl' },
        { file: 'test/docs/browser.test.ts', tool: 'chromium' },
        { file: 'test/monitoring/alerts.test.ts', tool: 'promtool' },
        { file: 'test/gitops/manifests.test.ts', tool: 'kubectl' },
        { file: 'test/monitoring/metrics.test.ts', tool: 'prometheus' },
      ]),
    ).toBe(
      'Skipped for missing system tools: chromium (test/docs/browser.test.ts); kubectl (test/gitops/manifests.test.ts); ' +
        'prometheus (test/monitoring/metrics.test.ts); promtool (test/monitoring/alerts.test.ts). ' +
        "Install them with: sudo apt-get install -y --no-install-recommends chromium kubectl prometheus (kubectl from Kubernetes' apt repository, https://pkgs.k8s.io). " +
        'With CI=true a missing tool fails the run instead.',
    );
    expect(skipSummary([])).toBeUndefined();
  });

  it('installs every tool the suites use with one command', () => {
    expect(installCommand(['redis-server', 'shellcheck', 'promtool'])).toBe(
      'sudo apt-get install -y --no-install-recommends prometheus redis-server shellcheck',
    );
  });
});

/** A whole vitest run of a fixture suite that needs kubectl, on a machine whose PATH holds only node. */
function vitestRun(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const vitest = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vitest, 'run', '--config', 'tools/testkit/test/fixtures/vitest.config.ts'], {
      cwd: REPO_ROOT,
      // The servers come from the parent run: the child starts no PostgreSQL and needs no redis-server.
      env: { PATH: nodeOnly, HOME: process.env.HOME, NO_COLOR: '1', DATABASE_URL: inject('adminDatabaseUrl'), REDIS_URL: 'redis://127.0.0.1:1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('a run on a machine with only Node', () => {
  it('passes with the suite skipped and prints the summary as its last line', async () => {
    const { code, output } = await vitestRun({});
    expect(output).toMatch(/Tests\s+1 passed \| 1 skipped \(2\)/);
    expect(output.trimEnd().split('\n').at(-1)).toBe(
      'Skipped for missing system tools: kubectl (tools/testkit/test/fixtures/needs-kubectl.fixture.ts). ' +
        "Install them with: sudo apt-get install -y --no-install-recommends kubectl (kubectl from Kubernetes' apt repository, https://pkgs.k8s.io). " +
        'With CI=true a missing tool fails the run instead.',
    );
    expect(code).toBe(0);
  });

  it('fails with CI=true, where the suite runs without its tool', async () => {
    const { code, output } = await vitestRun({ CI: 'true' });
    expect(output).toMatch(/Tests\s+1 failed \| 1 passed \(2\)/);
    expect(output).toContain('spawnSync kubectl ENOENT');
    expect(output).not.toContain('Skipped for missing system tools');
    expect(code).toBe(1);
  });

  it('prints no summary when the tool is there', async () => {
    const { code, output } = await vitestRun({ PATH: `${nodeOnly}:${withKubectl}` });
    expect(output).toMatch(/Tests\s+2 passed \(2\)/);
    expect(output).not.toContain('Skipped for missing system tools');
    expect(code).toBe(0);
  });
});
