import { accessSync, appendFileSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { expect, inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** where suites record what they skipped for a missing tool (one JSON line each); the global setup prints the summary */
    toolSkipsFile: string;
  }
}

/**
 * The programs some suites run that `npm install` cannot bring, by the
 * Debian package that installs each (CI and `.ci/run` install them).
 */
export const SYSTEM_TOOLS = {
  'redis-server': 'redis-server',
  promtool: 'prometheus',
  prometheus: 'prometheus',
  chromium: 'chromium',
  kubectl: 'kubectl',
  shellcheck: 'shellcheck',
} as const;
export type SystemTool = keyof typeof SYSTEM_TOOLS;

export interface ToolSkip {
  /** the suite, relative to the repository root */
  file: string;
  tool: SystemTool;
}

/** The tool's path when an executable of that name is on the PATH of `env`, as `command -v` finds it. */
export function findTool(tool: SystemTool, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, tool);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there, or not executable: keep looking
    }
  }
  return undefined;
}

/**
 * The one command that installs the tools: Debian's packages (what CI installs).
 * kubectl is not in Debian's own archive: its package comes from Kubernetes' apt
 * repository, which the note names.
 */
export function installCommand(tools: readonly SystemTool[]): string {
  const packages = [...new Set(tools.map((tool) => SYSTEM_TOOLS[tool]))].sort();
  const command = `sudo apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  return packages.includes('kubectl') ? `${command} (kubectl from Kubernetes' apt repository, https://pkgs.k8s.io)` : command;
}

/** One line: what was skipped for which tool, and the command that installs them all. */
export function skipSummary(skips: readonly ToolSkip[]): string | undefined {
  if (skips.length === 0) return undefined;
  const byTool = new Map<SystemTool, Set<string>>();
  for (const { tool, file } of skips) byTool.set(tool, (byTool.get(tool) ?? new Set()).add(file));
  const tools = [...byTool.keys()].sort();
  const parts = tools.map((tool) => `${tool} (${[...(byTool.get(tool) ?? [])].sort().join(', ')})`);
  return `Skipped for missing system tools: ${parts.join('; ')}. Install them with: ${installCommand(tools)}. With CI=true a missing tool fails the run instead.`;
}

/** The skips recorded in a run's file (one JSON line each), in order. */
export function readSkips(file: string): ToolSkip[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ToolSkip);
}

export interface RequireToolOptions {
  /** the environment whose PATH and CI are read; default process.env */
  env?: NodeJS.ProcessEnv;
  /** the need is met another way (a Redis at REDIS_URL for a suite that only needs a server, not the binary) */
  provided?: boolean;
  /** where the skip goes; default: the run's file that the global setup summarises */
  record?: (skip: ToolSkip) => void;
}

function recordForSummary(skip: ToolSkip): void {
  appendFileSync(inject('toolSkipsFile'), `${JSON.stringify(skip)}\n`);
}

/**
 * Whether a suite that needs `tool` runs: yes when the tool is on PATH (or
 * the need is `provided`), and always with CI=true, where a missing tool must
 * fail the run as it did before, never skip it. Otherwise (a fresh machine
 * with only Node) the skip is recorded for the one summary line at the end of
 * the run and the suite is skipped: `describe.skipIf(!requireTool('kubectl'))`.
 */
export function requireTool(tool: SystemTool, options: RequireToolOptions = {}): boolean {
  const env = options.env ?? process.env;
  if (options.provided === true || findTool(tool, env) !== undefined || env.CI === 'true') return true;
  const testPath = expect.getState().testPath;
  const file = testPath === undefined ? 'unknown suite' : path.relative(REPO_ROOT, testPath);
  (options.record ?? recordForSummary)({ file, tool });
  return false;
}
