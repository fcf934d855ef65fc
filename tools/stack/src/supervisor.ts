import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, type Logger } from '@cryptoagg/core';
import { PinoPretty, prettyFactory } from 'pino-pretty';

export interface ProcessSpec {
  name: string;
  /** TypeScript entry point, relative to the repository root (or absolute) */
  entry: string;
  env: NodeJS.ProcessEnv;
}

/** Loaded into every child: stops it when the supervisor is gone (see the file). */
const ORPHAN_GUARD = path.join(import.meta.dirname, 'orphan-guard.ts');

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

interface LaunchOptions {
  /** restart the process when a source file it loaded changes (`node --watch`, for `npm run dev`) */
  watch?: boolean;
  /** an IPC channel to the child (the embedded PostgreSQL's keeper reports its URL on it) */
  ipc?: boolean;
}

/**
 * Runs an entry point the way `npm run` would, in its own process (as in
 * Kubernetes, one can fail alone) and its own process group (`detached`): a
 * terminal's Ctrl-C goes to the foreground group, which is the supervisor's
 * alone, so the supervisor decides the order in which everything stops.
 */
function launch(spec: ProcessSpec, options: LaunchOptions = {}): ChildProcess {
  const args = [
    // The watcher restarts the child on a change to any file it loaded (tsx's included), after a graceful stop (SIGTERM).
    ...(options.watch ? ['--watch', '--watch-preserve-output'] : []),
    '--import',
    'tsx',
    '--import',
    ORPHAN_GUARD,
    path.resolve(REPO_ROOT, spec.entry),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: spec.env,
    // stdin is a pipe that nothing writes to: it closes when the supervisor exits, however it exits (orphan-guard.ts).
    stdio: ['pipe', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
    detached: true,
  });
  relay(spec.name, child.stdout!, process.stdout);
  relay(spec.name, child.stderr!, process.stderr);
  return child;
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

function exited(child: ChildProcess): Promise<void> {
  if (!running(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILL for the child's whole process group: under `--watch` the service is the watcher's child. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || !running(child)) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

/** Processes stopped together, by name, and the time (epoch ms) by which they must have exited. */
export interface StopStage {
  names: readonly string[];
  deadline: number;
}

/**
 * Keeps long-running services up (restarting a crashed one with backoff) and
 * runs jobs on demand; stop() stops them in stages (the gateway before the
 * subgraphs it calls), SIGKILLing what outlives its stage's deadline.
 */
export class Supervisor {
  private readonly children = new Map<ChildProcess, string>();
  private stopping = false;

  constructor(
    private readonly logger: Logger,
    private readonly options: { watch?: boolean } = {},
  ) {}

  service(spec: ProcessSpec, restarts = 0): void {
    if (this.stopping) return;
    const child = this.track(spec.name, launch(spec, { watch: this.options.watch === true }));
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
    const child = this.track(spec.name, launch(spec));
    await exited(child);
    return child.exitCode;
  }

  /** A process that runs until stop(), and says on its IPC channel when it is ready; resolves with that message. */
  async keeper<T>(spec: ProcessSpec): Promise<T> {
    const child = this.track(spec.name, launch(spec, { ipc: true }));
    return new Promise<T>((resolve, reject) => {
      child.once('message', (message) => resolve(message as T));
      child.once('exit', (code) => reject(new Error(`${spec.name} exited (code ${code ?? 'none'}) before it was ready`)));
    });
  }

  /**
   * Stops every process: stage by stage, each stage's processes get SIGTERM once
   * the previous stage has exited, and their process group SIGKILL if still
   * running at the stage's deadline; processes named in no stage go last, with
   * the last stage's deadline.
   */
  async stop(stages: readonly StopStage[]): Promise<void> {
    this.stopping = true;
    const named = new Set(stages.flatMap((stage) => stage.names));
    const rest = { names: [...new Set(this.children.values())].filter((name) => !named.has(name)), deadline: stages.at(-1)?.deadline ?? Date.now() };
    for (const stage of [...stages, rest]) {
      const group = [...this.children].filter(([, name]) => stage.names.includes(name)).map(([child]) => child);
      if (group.length === 0) continue;
      const startedAt = Date.now();
      for (const child of group) child.kill('SIGTERM');
      const timer = setTimeout(() => group.forEach(killGroup), Math.max(0, stage.deadline - Date.now()));
      await Promise.all(group.map(exited));
      clearTimeout(timer);
      const killed = group.filter((child) => child.signalCode === 'SIGKILL').length;
      const names = [...new Set(group.map((child) => this.children.get(child) ?? '?'))].join(', ');
      const took = `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
      if (killed > 0) this.logger.warn(`${names}: killed after ${took} (did not stop in time)`);
      else this.logger.info(`${names} stopped (${took})`);
    }
  }

  private track(name: string, child: ChildProcess): ChildProcess {
    this.children.set(child, name);
    child.once('exit', () => {
      // Kept until stop() has seen it: stop() reports on every process it stopped.
      if (!this.stopping) this.children.delete(child);
    });
    return child;
  }
}
