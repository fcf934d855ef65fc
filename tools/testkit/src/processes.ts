import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { serviceCommand } from '@cryptoagg/stack';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout lines that are JSON (pino logs), parsed */
  logs: Record<string, unknown>[];
}

/** Environment a child gets: only what the test passes plus PATH, so the machine's own settings never leak in. */
function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  // Nor the internet: a fetcher reads the real exchanges unless told otherwise (EXCHANGE_SOURCES defaults to all
  // three), so a child reads none unless the test names them (and points their *_BASE_URL at the fakes).
  return { PATH: process.env.PATH, HOME: process.env.HOME, EXCHANGE_SOURCES: '', ...env };
}

export interface RunningProcess {
  child: ChildProcess;
  /** everything printed so far, stdout and stderr interleaved */
  output(): string;
  /** resolves with the exit code once the process has exited */
  exited: Promise<number | null>;
}

/**
 * Starts a TypeScript entry point of the repository (through tsx) and leaves it running. `processGroup`: as the
 * leader of a process group of its own, the way a terminal runs a command, so that a test can signal the whole
 * group (`process.kill(-child.pid, signal)`) as Ctrl-C does.
 */
export function startScript(entry: string, env: Record<string, string | undefined>, options: { processGroup?: boolean; args?: string[] } = {}): RunningProcess {
  return startNode(['--import', 'tsx', path.join(REPO_ROOT, entry), ...(options.args ?? [])], env, options.processGroup === true);
}

/**
 * Starts a service from its bundle (dist/<name>.js, `npm run build`) with the command its image runs (node flags
 * included), as production runs it: what the benchmarks measure.
 */
export function startBundle(name: string, env: Record<string, string | undefined>): RunningProcess {
  return startNode(serviceCommand(name).slice(1), env, false);
}

function startNode(args: string[], env: Record<string, string | undefined>, processGroup: boolean): RunningProcess {
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: processGroup,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Runs a TypeScript entry point of the repository the way `npm run` does (through tsx), to completion. */
export function runScript(entry: string, env: Record<string, string | undefined>, timeoutMs = 60_000, args: string[] = []): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, entry), ...args], {
      cwd: REPO_ROOT,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const logs = stdout.split('\n').flatMap((line) => {
        if (!line.startsWith('{')) return [];
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return []; // not a log line (a report printed as JSON, say)
        }
      });
      resolve({ code, stdout, stderr, logs });
    });
  });
}
