import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export interface RedisServer {
  port: number;
  /** redis://127.0.0.1:<port> */
  url: string;
  /** (re)starts redis-server on the same port, empty (no persistence), and waits until it answers PING */
  start(): Promise<void>;
  /** SIGKILL, the crash case: resolves once the port refuses connections */
  kill(): Promise<void>;
  /** kills the server if it runs and removes its folder; safe to call more than once */
  stop(): Promise<void>;
  /** the running server's process id (to SIGSTOP it, the hung-server case) */
  pid(): number | undefined;
}

/** True when something on the port answers PING with PONG within `timeoutMs`. */
export function pings(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let answer = '';
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * A private redis-server (Debian's binary, on PATH) on a free port of
 * 127.0.0.1, for a test that stops and restarts Redis under a running API.
 * It runs as a child of the test process (not daemonized), so the test knows
 * exactly when it has exited; a missing binary rejects, it never skips.
 */
export async function startRedisServer(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cryptoagg-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  // Last resort when the worker exits without running afterAll: never leave a server behind.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const launch = (port: number) =>
    new Promise<void>((resolve, reject) => {
      let output = '';
      const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = server;
      let running = true;
      exited = new Promise((resolveExit) => {
        const gone = () => {
          running = false;
          resolveExit();
        };
        server.once('exit', gone);
        // A binary that cannot be spawned emits 'error' and never 'exit'.
        server.once('error', gone);
      });
      server.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
      server.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new Error(
            error.code === 'ENOENT'
              ? 'redis-server is not on PATH: this test starts and stops a Redis of its own (install the redis-server package)'
              : `redis-server did not start: ${error.message}`,
          ),
        ),
      );
      until(
        async () => {
          if (!running) throw new Error(`redis-server exited at start-up:\n${output}`);
          return pings(port);
        },
        10_000,
        `redis-server did not answer PING on port ${port}`,
      ).then(resolve, reject);
    });

  // The free port can be taken between freePort() and the bind: try another one.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch(port);
      break;
    } catch (error) {
      child?.kill('SIGKILL');
      await exited;
      if (attempt === 3 || (error instanceof Error && error.message.includes('not on PATH'))) {
        rmSync(dir, { recursive: true, force: true });
        process.off('exit', killOnExit);
        throw error;
      }
    }
  }

  const kill = async () => {
    child?.kill('SIGKILL');
    await exited;
    await until(async () => !(await pings(port)), 5_000, `port ${port} still answered PING after redis-server was killed`);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start: () => launch(port),
    kill,
    pid: () => child?.pid,
    stop: async () => {
      try {
        await kill();
      } finally {
        rmSync(dir, { recursive: true, force: true });
        process.off('exit', killOnExit);
      }
    },
  };
}
