/**
 * The deployment as rendered: both overlays (`kubectl kustomize`, once each)
 * and the Argo CD objects validate against their schemas, with no unknown
 * field, and satisfy every policy of ./policies.ts; the manifests agree with
 * the services' configuration schemas.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type KObject, annotation, containers, get, id, isRecord, loadObjects, renderOverlay, repoRoot, workloads } from './k8s.js';
import { RENDER_POLICIES, SYNC_ORDER, argoApplications, argoProjectPermits, configDrift, noPlaintextSecrets } from './policies.js';
import { schemaViolations } from './schemas.js';
import { SERVICES, migrateVariables } from './services.js';

const renders: Record<string, KObject[]> = { dev: renderOverlay('dev'), prod: renderOverlay('prod') };
const argoDir = path.join(repoRoot, 'gitops/argocd');
const argo = readdirSync(argoDir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => loadObjects(path.join(argoDir, f)));

const find = (objects: KObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`${kind}/${name} is not in the render`);
  return found;
};

describe.each(['dev', 'prod'])('overlay %s', (env) => {
  const objects = renders[env] ?? [];

  it('renders the whole system into its namespace', () => {
    const names = workloads(objects).map((w) => w.id);
    expect(names).toEqual(
      expect.arrayContaining(['Deployment/gateway', 'Deployment/coins', 'Deployment/prices', 'CronJob/fetcher', 'Job/migrate', 'StatefulSet/redis']),
    );
    if (env === 'dev') expect(names).toContain('StatefulSet/cryptoagg-db');
    else expect(objects.map(id)).toEqual(expect.arrayContaining(['Cluster/cryptoagg-db', 'ScheduledBackup/cryptoagg-db-nightly', 'Ingress/gateway']));
    expect(new Set(objects.map((o) => o.metadata.namespace))).toEqual(new Set([`cryptoagg-${env}`]));
  });

  it('every object matches its schema, with no field the schema does not define', async () => {
    expect(await schemaViolations(objects)).toEqual([]);
  });

  it.each(Object.keys(RENDER_POLICIES))('policy %s holds', (name) => {
    expect(RENDER_POLICIES[name]?.(objects)).toEqual([]);
  });

  it('the Argo CD project permits every object of the render', () => {
    expect(argoProjectPermits(argo)(objects)).toEqual([]);
  });

  it('configuration agrees with the services’ config schemas (names, values, ports, probe paths)', () => {
    expect(configDrift(SERVICES)(objects)).toEqual([]);
  });

  it('image tags come from the overlay: every application image carries the pinned tag', () => {
    for (const { container } of containers(objects)) expect(container.image).toMatch(/:[^/]+$/);
    const own = containers(objects).filter(({ container }) => container.image?.startsWith('ghcr.io/cryptoagg/crypto-aggregator/'));
    expect(own.map(({ container }) => container.image?.split('/').pop()?.split(':')[0]).sort()).toEqual(['coins', 'fetcher', 'gateway', 'migrate', 'prices']);
  });

  it('the sync waves follow the documented order', () => {
    const waves = SYNC_ORDER.map(({ name, matches }) => ({
      name,
      waves: [...new Set(objects.filter((o) => matches(o, objects)).map((o) => Number(annotation(o, 'argocd.argoproj.io/sync-wave') ?? 0)))],
    })).filter((g) => g.waves.length > 0);
    expect(waves).toEqual([
      { name: 'configuration', waves: [-3] },
      { name: 'database', waves: [-2] },
      { name: 'redis', waves: [-1] },
      { name: 'migrations', waves: [0] },
      { name: 'subgraphs', waves: [1] },
      { name: 'gateway', waves: [2] },
      { name: 'fetcher', waves: [3] },
    ]);
  });
});

describe('overlay specifics', () => {
  it('prod holds no plaintext Secret, and HPAs own the API replicas', () => {
    const prod = renders.prod ?? [];
    expect(noPlaintextSecrets(prod)).toEqual([]);
    const hpas = prod.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o) => get(o, 'spec', 'scaleTargetRef', 'name'));
    expect(hpas.sort()).toEqual(['coins', 'gateway', 'prices']);
    for (const name of ['gateway', 'coins', 'prices']) expect(get(find(prod, 'Deployment', name), 'spec', 'replicas')).toBeUndefined();
  });

  it('dev pins one replica and runs with obviously fake credentials', () => {
    const dev = renders.dev ?? [];
    for (const name of ['gateway', 'coins', 'prices']) expect(get(find(dev, 'Deployment', name), 'spec', 'replicas')).toBe(1);
    const secrets = dev.filter((o) => o.kind === 'Secret');
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      for (const [key, value] of Object.entries((secret.data ?? {}) as Record<string, string>)) {
        const text = Buffer.from(value, 'base64').toString('utf8');
        // Names are not secrets; an empty CoinGecko key means none.
        if (!['username', 'dbname'].includes(key) && text !== '') expect(text).toMatch(/dev-only-not-a-secret/);
      }
    }
  });

  it('prod runs CloudNativePG with 3 instances, S3 backups and a scheduled backup, and the apps read its generated secret', () => {
    const prod = renders.prod ?? [];
    const cluster = find(prod, 'Cluster', 'cryptoagg-db');
    expect(get(cluster, 'spec', 'instances')).toBe(3);
    expect(get(cluster, 'spec', 'backup', 'barmanObjectStore', 'destinationPath')).toMatch(/^s3:\/\//);
    expect(get(find(prod, 'ScheduledBackup', 'cryptoagg-db-nightly'), 'spec', 'cluster', 'name')).toBe('cryptoagg-db');
    const refs = containers(prod)
      .flatMap(({ container }) => container.env ?? [])
      .filter((e) => e.name === 'DATABASE_URL')
      .map((e) => `${e.valueFrom?.secretKeyRef?.name}/${e.valueFrom?.secretKeyRef?.key}`);
    expect(refs.length).toBe(4);
    expect(new Set(refs)).toEqual(new Set(['cryptoagg-db-app/uri']));
  });

  it('prod exposes the gateway through a TLS Ingress issued by cert-manager', () => {
    const ingress = find(renders.prod ?? [], 'Ingress', 'gateway');
    expect(annotation(ingress, 'cert-manager.io/cluster-issuer')).toBeTruthy();
    expect(get(ingress, 'spec', 'tls', 0, 'secretName')).toBe('cryptoagg-api-tls');
    expect(get(ingress, 'spec', 'rules', 0, 'host')).toBe('api.cryptoagg.example');
  });
});

describe('gitops/argocd', () => {
  it('holds an AppProject and an ApplicationSet that match their schemas', async () => {
    expect(argo.map((o) => o.kind).sort()).toEqual(['AppProject', 'ApplicationSet']);
    expect(await schemaViolations(argo)).toEqual([]);
  });

  it('applications point at existing overlays of this repository, within the project, with automated sync', () => {
    expect(argoApplications(argo)).toEqual([]);
  });

  it('the project is restricted to this repository and the two namespaces', () => {
    const project = argo.find((o) => o.kind === 'AppProject');
    expect(get(project, 'spec', 'sourceRepos')).toEqual(['https://github.com/cryptoagg/crypto-aggregator.git']);
    expect(((get(project, 'spec', 'destinations') ?? []) as { namespace: string }[]).map((d) => d.namespace).sort()).toEqual(['cryptoagg-dev', 'cryptoagg-prod']);
    expect(get(project, 'spec', 'clusterResourceWhitelist')).toEqual([{ group: '', kind: 'Namespace' }]);
  });

  it('the project permits exactly the namespaced kinds the overlays render, nothing more', () => {
    const project = argo.find((o) => o.kind === 'AppProject');
    const permitted = ((get(project, 'spec', 'namespaceResourceWhitelist') ?? []) as { group: string; kind: string }[]).map((e) => `${e.group}/${e.kind}`);
    const rendered = [...(renders.dev ?? []), ...(renders.prod ?? [])].map((o) => `${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}/${o.kind}`);
    expect(permitted.sort()).toEqual([...new Set(rendered)].sort());
  });
});

describe('unknown-field detection', () => {
  /** String maps and free-form values: any key is valid there. */
  const MAPS = /(: |\.)(labels|annotations|matchLabels|selector|data|limits|requests|parameters)$|\.list\.elements\.\[\]$/;

  it('reaches every object in the renders and in gitops/argocd except maps and free-form values', async () => {
    // One probe per distinct (kind, path) shape: add a field no schema has, expect it reported as unknown.
    const shapes = new Map<string, { object: KObject; at: (string | number)[] }>();
    const walk = (object: KObject, value: unknown, at: (string | number)[]) => {
      if (Array.isArray(value)) value.forEach((item, i) => walk(object, item, [...at, i]));
      else if (isRecord(value)) {
        shapes.set(`${object.apiVersion} ${object.kind}: ${at.map((k) => (typeof k === 'number' ? '[]' : k)).join('.')}`, { object, at });
        for (const [key, child] of Object.entries(value)) walk(object, child, [...at, key]);
      }
    };
    for (const object of [...(renders.dev ?? []), ...(renders.prod ?? []), ...argo]) walk(object, object, []);
    const unseen: string[] = [];
    for (const [shape, { object, at }] of shapes) {
      const copy = structuredClone(object);
      const node = get(copy, ...at) as Record<string, unknown>;
      node.zzNotInAnySchema = 'x';
      const violations = await schemaViolations([copy]);
      if (!violations.some((v) => v.includes('unknown field') && v.includes('zzNotInAnySchema'))) unseen.push(shape);
    }
    expect(shapes.size).toBeGreaterThan(200);
    expect(unseen.filter((shape) => !MAPS.test(shape))).toEqual([]);
  });
});

describe('drift detection reads the services’ schemas', () => {
  it('finds the variables of every service, the migration CLI included', () => {
    expect(SERVICES.gateway?.variables).toEqual(expect.arrayContaining(['GATEWAY_PORT', 'COINS_URL', 'PRICES_URL', 'SUBGRAPH_SECRET']));
    expect(SERVICES.coins?.variables).toEqual(expect.arrayContaining(['COINS_PORT', 'DATABASE_URL', 'REDIS_URL']));
    expect(SERVICES.prices?.variables).toEqual(expect.arrayContaining(['PRICES_PORT', 'FETCH_CURRENCIES']));
    expect(SERVICES.fetcher?.variables).toEqual(expect.arrayContaining(['FETCH_DEADLINE_SECONDS', 'MIGRATE_ON_START', 'COINGECKO_API_KEY']));
    expect(migrateVariables().sort()).toEqual(['DATABASE_URL', 'LOG_LEVEL']);
  });

  it('the configured ports are the services’ defaults (so local runs and the cluster agree)', () => {
    const parse = (service: string, env: Record<string, string>) => {
      const result = SERVICES[service]?.parse?.(env);
      return result?.ok === true ? result.config.port : result;
    };
    expect([parse('gateway', {}), parse('coins', {}), parse('prices', {})]).toEqual([4000, 4001, 4002]);
  });
});
