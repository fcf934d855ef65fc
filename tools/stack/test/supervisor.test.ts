import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, REPO_ROOT } from '@cryptoagg/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedDatabaseMessage } from '../src/progress.js';
import { Supervisor } from '../src/supervisor.js';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-supervisor-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A service that records in `log` when it starts (the value its dependency exports, its pid and its parent's) and when SIGTERM stops it. */
function demoService(dir: string, value: number): { main: string; dep: string; log: string } {
  mkdirSync(dir, { recursive: true });
  const main = path.join(dir, 'main.ts');
  const dep = path.join(dir, 'dep.ts');
  const log = path.join(dir, 'log.txt');
  writeFileSync(dep, `export const value: number = ${value};\n`);
  writeFileSync(
    main,
    [
      "import { appendFileSync } from 'node:fs';",
      "import { value } from './dep.js';",
      `const log = ${JSON.stringify(log)};`,
      'appendFileSync(log, `started ${value} ${process.pid} ${process.ppid}\\n`);',
      "process.on('SIGTERM', () => {",
      '  appendFileSync(log, `stopped ${process.pid}\\n`);',
      '  process.exit(0);',
      '});',
      'setInterval(() => undefined, 1_000);',
    ].join('\n'),
  );
  return { main, dep, log };
}

const lines = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run dev (the supervisor with --watch)', () => {
  it('restarts a service gracefully when a file it imports changes, and stops it (and its watcher) on stop()', async () => {
    const demo = demoService(path.join(scratch, 'watch'), 1);
    const supervisor = new Supervisor(createLogger('test', 'silent'), { watch: true });
    supervisor.service({ name: 'demo', entry: demo.main, env: { PATH: process.env.PATH } });
    await expect.poll(() => lines(demo.log), { timeout: 15_000, interval: 100 }).toEqual([expect.stringMatching(/^started 1 \d+ \d+$/)]);
    const [first, watcher] = lines(demo.log)[0]!.split(' ').slice(2).map(Number) as [number, number];

    // The new process's pid, once it has written it: the watcher (its parent) stays the same.
    const second = () => Number(lines(demo.log)[2]?.split(' ')[2]);
    writeFileSync(demo.dep, 'export const value: number = 2;\n');
    await expect
      .poll(() => lines(demo.log), { timeout: 15_000, interval: 100 })
      .toEqual([`started 1 ${first} ${watcher}`, `stopped ${first}`, expect.stringMatching(new RegExp(`^started 2 \\d+ ${watcher}$`))]);

    await supervisor.stop([{ names: ['demo'], deadline: Date.now() + 5_000 }]);
    expect(lines(demo.log).slice(3)).toEqual([`stopped ${second()}`]);
    expect([second(), watcher].filter(alive)).toEqual([]);
  });
});

describe('a supervisor that dies without stopping its processes (SIGKILL, a crash)', () => {
  it('leaves nothing running: each process, in its own process group, stops gracefully once the supervisor is gone', async () => {
    const plain = demoService(path.join(scratch, 'orphan-plain'), 1);
    const watched = demoService(path.join(scratch, 'orphan-watched'), 1);
    const driver = path.join(scratch, 'driver.ts');
    writeFileSync(
      driver,
      [
        // By path: bare specifiers resolve from the importing file's folder, a temporary one here.
        `import { createLogger } from ${JSON.stringify(path.join(REPO_ROOT, 'packages/core/src/index.ts'))};`,
        `import { Supervisor } from ${JSON.stringify(path.join(REPO_ROOT, 'tools/stack/src/supervisor.ts'))};`,
        `const env = { PATH: process.env.PATH };`,
        `new Supervisor(createLogger('driver', 'silent')).service({ name: 'plain', entry: ${JSON.stringify(plain.main)}, env });`,
        `new Supervisor(createLogger('driver', 'silent'), { watch: true }).service({ name: 'watched', entry: ${JSON.stringify(watched.main)}, env });`,
        'setInterval(() => undefined, 1_000);',
      ].join('\n'),
    );
    const supervisor = spawn(process.execPath, ['--import', 'tsx', driver], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH },
    });
    let errors = '';
    supervisor.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const exited = new Promise((resolve) => supervisor.once('exit', resolve));
    try {
      for (const { log } of [plain, watched]) await expect.poll(() => lines(log), { timeout: 15_000, interval: 100, message: errors }).toHaveLength(1);
      const [plainPid, watchedPid, watcherPid] = [...lines(plain.log)[0]!.split(' ').slice(2, 3), ...lines(watched.log)[0]!.split(' ').slice(2)].map(Number);
      const pids = [plainPid, watchedPid];

      supervisor.kill('SIGKILL');
      await exited;
      for (const [index, { log }] of [plain, watched].entries()) {
        await expect.poll(() => lines(log).slice(1), { timeout: 5_000, interval: 100 }).toEqual([`stopped ${pids[index]}`]);
      }
      // The watcher of `npm run dev` too.
      await expect.poll(() => [plainPid, watchedPid, watcherPid].filter((pid) => alive(pid!)), { timeout: 5_000, interval: 100 }).toEqual([]);
    } finally {
      supervisor.kill('SIGKILL');
    }
  });
});

describe('the first start', () => {
  it('says when the embedded PostgreSQL is initialised (first start only) rather than started', () => {
    const dataDir = path.join(scratch, 'pgdata');
    mkdirSync(dataDir);
    expect(embeddedDatabaseMessage(dataDir)).toBe('initialising the embedded PostgreSQL in .data/ (first start only, ~10 s)');
    writeFileSync(path.join(dataDir, 'PG_VERSION'), '17\n');
    expect(embeddedDatabaseMessage(dataDir)).toBe(`starting the embedded PostgreSQL (data in ${path.relative(REPO_ROOT, dataDir)}/)`);
  });
});
