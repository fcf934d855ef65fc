/**
 * compose.yaml, the containers' way to run the system: valid against the
 * Compose Specification's JSON schema (copied here, see SOURCES.md), built
 * from the Dockerfile's targets, and with every service's environment accepted
 * by that service's own configuration schema, as the Kubernetes manifests are
 * checked (test/gitops/services.ts): names it reads, values it parses, URLs
 * that reach a service of the file on a port it listens on.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { Ajv } from 'ajv';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SERVICES } from '../gitops/services.js';

interface ComposeService {
  image?: string;
  build?: { context: string; target?: string };
  profiles?: string[];
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  restart?: string;
  read_only?: boolean;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const text = readFileSync(path.join(REPO_ROOT, 'compose.yaml'), 'utf8');
// Compose resolves YAML merge keys (`<<: *anchor`) before it reads the file.
const document = parse(text, { merge: true }) as unknown;
const compose = document as ComposeFile;
const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');

/** The image targets of the Dockerfile: the stages built FROM the runtime stage. */
const imageTargets = [...dockerfile.matchAll(/^FROM runtime AS (\S+)$/gm)].map((m) => m[1] ?? '');

/**
 * Compose's interpolation as `docker compose` does it with `shell` as the
 * environment (and .env): `${NAME:-default}` (default when unset or empty),
 * `${NAME-default}` (when unset), `${NAME}`, and `$$` for a literal `$`.
 */
function interpolate(value: string, shell: Record<string, string>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)?([^}]*)\}/g,
    (match, name: string | undefined, operator: string | undefined, fallback: string) => {
      if (match === '$$' || name === undefined) return '$';
      const set = shell[name];
      if (operator === ':-') return set === undefined || set === '' ? fallback : set;
      if (operator === '-') return set ?? fallback;
      return set ?? '';
    },
  );
}

/** What the process in the container sees: the image's NODE_ENV, then the service's environment (null = passed through from the shell). */
function containerEnvironment(service: ComposeService, shell: Record<string, string>): Record<string, string> {
  const fromImage = /^ENV NODE_ENV=(\S+)$/m.exec(dockerfile)?.[1];
  const env: Record<string, string> = fromImage ? { NODE_ENV: fromImage } : {};
  for (const [name, value] of Object.entries(service.environment ?? {})) {
    if (value === null) {
      if (shell[name] !== undefined) env[name] = shell[name];
    } else env[name] = interpolate(String(value), shell);
  }
  return env;
}

const portsOf = (service: ComposeService): number[] => [
  ...(service.expose ?? []).map(Number),
  ...(service.ports ?? []).map((mapping) => Number(mapping.split(':').at(-1))),
];

/** Everything wrong with the environment of the services built from the Dockerfile's image targets, in a shell with `shell` set. */
function environmentViolations(shell: Record<string, string>): string[] {
  const violations: string[] = [];
  const profiles = new Set(Object.keys(shell).includes('COMPOSE_PROFILES') ? (shell.COMPOSE_PROFILES ?? '').split(',') : []);
  for (const [name, service] of Object.entries(compose.services)) {
    const target = service.build?.target;
    const schema = target === undefined ? undefined : SERVICES[target];
    if (schema === undefined) continue;
    const env = containerEnvironment(service, shell);
    for (const variable of Object.keys(env))
      if (!schema.variables.includes(variable)) violations.push(`${name}: sets ${variable}, which ${target} does not read`);
    for (const [variable, value] of Object.entries(env)) {
      if (!variable.endsWith('_URL') || value === '') continue;
      const url = new URL(value);
      const peer = compose.services[url.hostname];
      const port = Number(url.port || { 'http:': 80, 'https:': 443, 'postgres:': 5432, 'redis:': 6379 }[url.protocol]);
      if (url.hostname.includes('.')) continue; // a host on the internet (the real CoinGecko)
      if (peer === undefined) violations.push(`${name}: ${variable} points at ${url.hostname}, which is no service of compose.yaml`);
      else if (peer.profiles !== undefined && !peer.profiles.some((p) => profiles.has(p)))
        violations.push(`${name}: ${variable} points at ${url.hostname}, which runs only with --profile ${peer.profiles.join('/')}`);
      else if (peer.image === undefined && !portsOf(peer).includes(port))
        violations.push(`${name}: ${variable} uses port ${port} of ${url.hostname}, which exposes ${portsOf(peer).join(', ')}`);
      else if (peer.image !== undefined && port !== { postgres: 5432, redis: 6379 }[peer.image.split(':')[0] ?? ''])
        violations.push(`${name}: ${variable} uses port ${port} of ${url.hostname} (${peer.image})`);
    }
    if (schema.parse === undefined) continue;
    const parsed = schema.parse(env);
    if (!parsed.ok) {
      violations.push(...parsed.errors.map((error) => `${name}: ${error}`));
      continue;
    }
    // The port the service listens on is the one compose exposes (and the one its peers' URLs use).
    const listens = parsed.config.port;
    if (typeof listens === 'number' && !portsOf(service).includes(listens))
      violations.push(`${name}: listens on ${listens}, which compose.yaml does not expose`);
  }
  return violations;
}

describe('compose.yaml', () => {
  it('is valid against the Compose Specification', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    // The schema names draft-07 by its https address, which ajv knows by the http one.
    ajv.addMetaSchema({ ...draft07, $id: 'https://json-schema.org/draft-07/schema' });
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(import.meta.dirname, 'compose-spec.json'), 'utf8')) as object);
    expect(validate(document), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // The schema refuses what compose would refuse: a misspelled key is an error, not ignored.
    const misspelled = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    misspelled.services.gateway!.port = ['4000:4000'];
    expect(validate(misspelled)).toBe(false);
  });

  it('runs every image target of the Dockerfile as a service of that name, and the fake upstream from the build stage only with --profile offline', () => {
    expect(imageTargets.sort()).toEqual(['coins', 'fetcher', 'gateway', 'migrate', 'prices']);
    for (const target of imageTargets) expect(compose.services[target]?.build, target).toEqual({ context: '.', target });
    const built = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    expect(built.map(([name, s]) => `${name}:${s.build?.target ?? ''}`).sort()).toEqual([
      'coins:coins',
      'fake-upstream:build',
      'fetcher:fetcher',
      'gateway:gateway',
      'migrate:migrate',
      'prices:prices',
    ]);
    expect(compose.services['fake-upstream']?.profiles).toEqual(['offline']);
    expect(
      Object.entries(compose.services)
        .filter(([, s]) => s.profiles !== undefined)
        .map(([name]) => name),
    ).toEqual(['fake-upstream']);
  });

  it('has PostgreSQL 17 and Redis 7 with append-only persistence, each on a named volume', () => {
    expect(compose.services.postgres?.image).toMatch(/^postgres:17\.\d+$/);
    expect(compose.services.postgres?.volumes).toEqual(['postgres:/var/lib/postgresql/data']);
    expect(compose.services.redis?.image).toMatch(/^redis:7\.\d+-alpine$/);
    expect(compose.services.redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(compose.services.redis?.volumes).toEqual(['redis:/data']);
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual(['postgres', 'redis']);
  });

  it('gives every service its own configuration, as its schema reads it, with URLs that reach a service of the file', () => {
    expect(environmentViolations({})).toEqual([]);
  });

  it('runs offline with the fake upstream, as the header says', () => {
    const header = /^#\s+(.+docker compose --profile offline up.*)$/m.exec(text)?.[1] ?? '';
    const shell = Object.fromEntries([...header.matchAll(/\b([A-Z_]+)=(\S+)/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
    expect(shell).toEqual({ COINGECKO_BASE_URL: 'http://fake-upstream:8089/api/v3' });
    expect(environmentViolations({ ...shell, COMPOSE_PROFILES: 'offline' })).toEqual([]);
    expect(containerEnvironment(compose.services.fetcher!, shell).COINGECKO_BASE_URL).toBe('http://fake-upstream:8089/api/v3');
    // Without the profile, that URL would reach nothing: the check sees it.
    expect(environmentViolations(shell)).toEqual(['fetcher: COINGECKO_BASE_URL points at fake-upstream, which runs only with --profile offline']);
  });

  it('catches a variable a service does not read, a value it refuses and a URL to a port nothing listens on', () => {
    const original = structuredClone(compose.services);
    try {
      compose.services.coins!.environment = { ...compose.services.coins!.environment, COINS_PORTT: '4001' };
      compose.services.prices!.environment = { ...compose.services.prices!.environment, FETCH_CURRENCIES: '' };
      compose.services.gateway!.environment = { ...compose.services.gateway!.environment, PRICES_URL: 'http://prices:4009/graphql', LOG_LEVEL: 'loud' };
      expect(environmentViolations({})).toEqual([
        'coins: sets COINS_PORTT, which coins does not read',
        'gateway: PRICES_URL uses port 4009 of prices, which exposes 4002',
        expect.stringMatching(/^gateway: invalid configuration: LOG_LEVEL: /),
      ]);
    } finally {
      compose.services = original;
    }
  });

  it('starts the services in order: the migrations once PostgreSQL is healthy, the subgraphs after them, the gateway after the subgraphs', () => {
    const conditions = (name: string) => Object.fromEntries(Object.entries(compose.services[name]?.depends_on ?? {}).map(([peer, d]) => [peer, d.condition]));
    expect(conditions('migrate')).toEqual({ postgres: 'service_healthy' });
    for (const name of ['coins', 'prices'])
      expect(conditions(name)).toEqual({ postgres: 'service_healthy', redis: 'service_healthy', migrate: 'service_completed_successfully' });
    expect(conditions('gateway')).toEqual({ coins: 'service_healthy', prices: 'service_healthy' });
    // The fake upstream is waited for only when its profile runs it.
    expect(compose.services.fetcher?.depends_on?.['fake-upstream']).toEqual({ condition: 'service_healthy', required: false });
    for (const name of ['postgres', 'redis', 'coins', 'prices', 'gateway', 'fake-upstream']) {
      expect(compose.services[name]?.healthcheck?.test.length, name).toBeGreaterThan(0);
      expect(compose.services[name]?.restart, name).toBe('unless-stopped');
    }
    // The API is the one published port.
    expect(Object.entries(compose.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name} ${p}`))).toEqual(['gateway 4000:4000']);
  });

  it('runs the fetcher on the CronJob schedule: a run at start, then one at every 5-minute mark, as a shell loop that parses', () => {
    const fetcher = compose.services.fetcher!;
    expect(fetcher.entrypoint).toEqual(['/bin/sh', '-c']);
    const script = interpolate(String((fetcher.command as string[])[0]), {});
    expect(script).toContain('node --enable-source-maps dist/fetcher.js');
    expect(script).toContain('sleep $((300 - $(date +%s) % 300))');
    expect(dockerfile).toMatch(/^FROM runtime AS fetcher\nCMD \["node", "--enable-source-maps", "dist\/fetcher.js"\]$/m);
    const check = spawnSync('sh', ['-n', '-c', script], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});
