import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, type Logger } from '@cryptoagg/core';
import { PinoPretty, prettyFactory } from 'pino-pretty';

export interface ProcessSpec {
  name: string;
  /** TypeScript entry point, relative to the repository root */
  entry: string;
  env: NodeJS.ProcessEnv;
}

const PRETTY = { colorize: process.stdout.isTTY, ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss' };
const prettify = prettyFactory(PRETTY);
const prefix = (name: string) => `[${name.padEnd(7)}] `;

/** The supervisor's own log, formatted like its children's lines. */
export const prettyDestination = () => PinoPretty({ ...PRETTY, messageFormat: `${prefix('start')}{msg}`, sync: true });

/** Copies a child's output to ours, one line at a time, prefixed with its name; pino JSON made readable. */
function relay(name: string, stream: NodeJS.ReadableStream, target: NodeJS.WritableStream): void {
  createInterface({ input: stream }).on('line', (line) => {
    let text = line;
    if (line.startsWith('{')) {
      try {
        text = prettify(JSON.parse(line)).trimEnd();
      } catch {
        // not JSON after all: print as is
      }
    }
    target.write(`${prefix(name)}${text}\n`);
  });
}

/** Runs an entry point the way `npm run` would, in its own process (as in Kubernetes, one can fail alone). */
export function launch(spec: ProcessSpec): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, spec.entry)], {
    cwd: REPO_ROOT,
    env: spec.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  relay(spec.name, child.stdout, process.stdout);
  relay(spec.name, child.stderr, process.stderr);
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Keeps long-running services up (restarting a crashed one with backoff) and
 * runs jobs on demand; stop() sends SIGTERM to every child and SIGKILLs any
 * still running after the grace period.
 */
export class Supervisor {
  private readonly children = new Set<ChildProcess>();
  private stopping = false;

  constructor(private readonly logger: Logger) {}

  service(spec: ProcessSpec, restarts = 0): void {
    if (this.stopping) return;
    const child = this.track(launch(spec));
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      // A service that ran a while before failing starts again from a short delay.
      const attempt = Date.now() - startedAt > 60_000 ? 0 : restarts;
      const delay = Math.min(30_000, 1_000 * 2 ** attempt);
      this.logger.error({ service: spec.name, code, signal }, `${spec.name} exited; restarting in ${delay / 1000}s`);
      setTimeout(() => this.service(spec, attempt + 1), delay).unref();
    });
  }

  /** Runs a job to completion; resolves with its exit code (never rejects). */
  async job(spec: ProcessSpec): Promise<number | null> {
    if (this.stopping) return null;
    const child = this.track(launch(spec));
    await exited(child);
    return child.exitCode;
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const running = [...this.children];
    for (const child of running) child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(running.map(exited));
    clearTimeout(timer);
  }

  private track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }
}
