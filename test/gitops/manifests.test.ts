/**
 * The deployment as rendered: both overlays (`kubectl kustomize`, once each)
 * and the Argo CD objects validate against their schemas, with no unknown
 * field, and satisfy every policy of ./policies.ts; the manifests agree with
 * the services' configuration schemas.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requireTool } from '@cryptoagg/testkit/tools';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type KObject, annotation, containers, get, id, isRecord, loadObjects, parseObjects, renderOverlay, repoRoot, workloads } from './k8s.js';
import { RENDER_POLICIES, SYNC_ORDER, argoApplications, argoProjectPermits, configDrift, noPlaintextSecrets, scrapeTargets } from './policies.js';
import { schemaViolations } from './schemas.js';
import { SERVICES, migrateVariables } from './services.js';

// The renders come from `kubectl kustomize`: without kubectl the suites that read them are skipped outside CI.
const hasKubectl = requireTool('kubectl');
const renders: Record<string, KObject[]> = hasKubectl ? { dev: renderOverlay('dev'), prod: renderOverlay('prod') } : { dev: [], prod: [] };
const argoDir = path.join(repoRoot, 'gitops/argocd');
const argo = readdirSync(argoDir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => loadObjects(path.join(argoDir, f)));

const find = (objects: KObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`${kind}/${name} is not in the render`);
  return found;
};

describe.skipIf(!hasKubectl).each(['dev', 'prod'])('overlay %s', (env) => {
  const objects = renders[env] ?? [];

  it('renders the whole system into its namespace', () => {
    const names = workloads(objects).map((w) => w.id);
    expect(names).toEqual(
      expect.arrayContaining(['Deployment/gateway', 'Deployment/coins', 'Deployment/prices', 'CronJob/fetcher', 'Job/migrate', 'StatefulSet/redis']),
    );
    if (env === 'dev') expect(names).toContain('StatefulSet/cryptoagg-db');
    else
      expect(objects.map(id)).toEqual(
        expect.arrayContaining(['Cluster/cryptoagg-db', 'ObjectStore/cryptoagg-db-backups', 'ScheduledBackup/cryptoagg-db-nightly', 'Ingress/gateway']),
      );
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

describe.skipIf(!hasKubectl)('overlay specifics', () => {
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

  it('prod runs CloudNativePG with 3 instances on 3 nodes, S3 backups through the Barman Cloud plugin, a PodMonitor, and the apps read its generated secret', () => {
    const prod = renders.prod ?? [];
    const cluster = find(prod, 'Cluster', 'cryptoagg-db');
    expect(get(cluster, 'spec', 'instances')).toBe(3);
    expect(get(cluster, 'spec', 'affinity', 'podAntiAffinityType')).toBe('required');
    expect(get(cluster, 'spec', 'backup')).toBeUndefined();
    expect(get(cluster, 'spec', 'plugins')).toEqual([
      { name: 'barman-cloud.cloudnative-pg.io', isWALArchiver: true, parameters: { barmanObjectName: 'cryptoagg-db-backups' } },
    ]);
    const store = find(prod, 'ObjectStore', 'cryptoagg-db-backups');
    expect(get(store, 'spec', 'configuration', 'destinationPath')).toBe('s3://cryptoagg-prod-backups/postgres');
    expect(get(store, 'spec', 'retentionPolicy')).toBe('30d');
    expect(get(find(prod, 'ScheduledBackup', 'cryptoagg-db-nightly'), 'spec')).toMatchObject({
      cluster: { name: 'cryptoagg-db' },
      method: 'plugin',
      pluginConfiguration: { name: 'barman-cloud.cloudnative-pg.io' },
    });
    const db = scrapeTargets(prod).targets.filter((t) => t.monitor === 'PodMonitor/cryptoagg-db');
    expect(db.map((t) => `${t.pod.owner}:${t.port}`)).toEqual(['Cluster/cryptoagg-db (CloudNativePG instances):9187']);
    const refs = containers(prod)
      .flatMap(({ container }) => container.env ?? [])
      .filter((e) => e.name === 'DATABASE_URL')
      .map((e) => `${e.valueFrom?.secretKeyRef?.name}/${e.valueFrom?.secretKeyRef?.key}`);
    expect(refs.length).toBe(4);
    expect(new Set(refs)).toEqual(new Set(['cryptoagg-db-app/uri']));
  });

  it('prod exposes the gateway through a TLS Ingress issued by cert-manager, on the public paths only', () => {
    const ingress = find(renders.prod ?? [], 'Ingress', 'gateway');
    expect(annotation(ingress, 'cert-manager.io/cluster-issuer')).toBeTruthy();
    expect(get(ingress, 'spec', 'tls', 0, 'secretName')).toBe('cryptoagg-api-tls');
    expect(get(ingress, 'spec', 'rules', 0, 'host')).toBe('api.cryptoagg.example');
    const paths = (get(ingress, 'spec', 'rules', 0, 'http', 'paths') as { path: string; pathType: string }[]).map((p) => `${p.pathType} ${p.path}`);
    expect(paths).toEqual(['Prefix /graphql', 'Exact /', 'Prefix /docs']);
  });

  it('both overlays scrape the services on their metrics port; the alerts and the dashboard ship once, with prod', () => {
    for (const env of ['dev', 'prod']) {
      const targets = scrapeTargets(renders[env] ?? []).targets.map((t) => `${t.monitor} ${t.pod.owner}:${t.port}${t.path}`);
      expect(targets, env).toEqual(
        expect.arrayContaining([
          'ServiceMonitor/gateway Deployment/gateway:9464/metrics',
          'ServiceMonitor/coins Deployment/coins:9464/metrics',
          'ServiceMonitor/prices Deployment/prices:9464/metrics',
          'PodMonitor/redis StatefulSet/redis:9121/metrics',
        ]),
      );
    }
    const everywhere = [...(renders.dev ?? []), ...(renders.prod ?? [])];
    expect(everywhere.filter((o) => o.kind === 'PrometheusRule').map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'cryptoagg-prod/crypto-aggregator',
    ]);
    const dashboards = everywhere.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
    expect(dashboards.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['cryptoagg-prod/crypto-aggregator-dashboard']);
  });

  it('monitoring is optional: without the monitoring components each overlay renders with no monitoring.coreos.com object, and holds its policies', () => {
    const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-no-monitoring-'));
    try {
      // A copy of gitops/ as a platform without kube-prometheus-stack would have it: the overlays without `components:`.
      cpSync(path.join(repoRoot, 'gitops'), path.join(scratch, 'gitops'), { recursive: true });
      for (const env of ['dev', 'prod']) {
        const file = path.join(scratch, 'gitops/overlays', env, 'kustomization.yaml');
        const kustomization = parseYaml(readFileSync(file, 'utf8')) as { components?: string[] };
        expect(
          kustomization.components?.some((c) => c.endsWith('components/monitoring')),
          env,
        ).toBe(true);
        delete kustomization.components;
        writeFileSync(file, stringifyYaml(kustomization));
        const objects = parseObjects(execFileSync('kubectl', ['kustomize', path.dirname(file)], { encoding: 'utf8' }), `${env} without monitoring`);
        expect(objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/')).map(id), env).toEqual([]);
        expect(
          workloads(objects).map((w) => w.id),
          env,
        ).toEqual(expect.arrayContaining(['Deployment/gateway', 'StatefulSet/redis']));
        for (const [name, policy] of Object.entries(RENDER_POLICIES)) expect(policy(objects), `${env}: ${name}`).toEqual([]);
        expect(argoProjectPermits(argo)(objects), env).toEqual([]);
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!hasKubectl)('the restore drill of docs/deployment.md', () => {
  it('is a recovery Cluster and an ObjectStore that match their schemas and read the prod backups', async () => {
    const guide = readFileSync(path.join(repoRoot, 'docs/deployment.md'), 'utf8');
    const block = /`restore-drill\.yaml`[\s\S]*?```yaml\n([\s\S]*?)```/.exec(guide)?.[1];
    expect(block, 'a ```yaml block after `restore-drill.yaml`').toBeDefined();
    const drill = parseObjects(block ?? '', 'restore-drill.yaml');
    expect(drill.map(id)).toEqual(['ObjectStore/cryptoagg-db-backups', 'Cluster/cryptoagg-db-restore']);
    expect(await schemaViolations(drill)).toEqual([]);
    const prod = renders.prod ?? [];
    const store = find(drill, 'ObjectStore', 'cryptoagg-db-backups');
    expect(get(store, 'spec', 'configuration', 'destinationPath')).toBe(
      get(find(prod, 'ObjectStore', 'cryptoagg-db-backups'), 'spec', 'configuration', 'destinationPath'),
    );
    const restore = find(drill, 'Cluster', 'cryptoagg-db-restore');
    const source = get(restore, 'spec', 'bootstrap', 'recovery', 'source');
    const external = (
      (get(restore, 'spec', 'externalClusters') ?? []) as { name: string; plugin?: { name: string; parameters: Record<string, string> } }[]
    ).find((c) => c.name === source);
    expect(external?.plugin).toEqual({
      name: 'barman-cloud.cloudnative-pg.io',
      parameters: { barmanObjectName: 'cryptoagg-db-backups', serverName: 'cryptoagg-db' },
    });
    // It only reads: no WAL archiver of its own writing into prod's backups.
    expect(get(restore, 'spec', 'plugins')).toBeUndefined();
    expect(String(get(restore, 'spec', 'imageName')).split('@')[0]).toBe(String(get(find(prod, 'Cluster', 'cryptoagg-db'), 'spec', 'imageName')).split('@')[0]);
  });
});

describe.skipIf(!hasKubectl)('gitops/argocd', () => {
  it('holds the two AppProjects, the ApplicationSet and the root Application that syncs the folder itself, all matching their schemas', async () => {
    expect(argo.map(id).sort()).toEqual([
      'AppProject/crypto-aggregator',
      'AppProject/crypto-aggregator-argocd',
      'Application/crypto-aggregator-root',
      'ApplicationSet/crypto-aggregator',
    ]);
    expect(await schemaViolations(argo)).toEqual([]);
    const root = find(argo, 'Application', 'crypto-aggregator-root');
    expect(get(root, 'spec', 'source', 'path')).toBe('gitops/argocd');
    expect(get(root, 'spec', 'destination', 'namespace')).toBe('argocd');
    const bootstrap = find(argo, 'AppProject', 'crypto-aggregator-argocd');
    expect(get(bootstrap, 'spec', 'destinations')).toEqual([{ server: 'https://kubernetes.default.svc', namespace: 'argocd' }]);
    expect(get(bootstrap, 'spec', 'clusterResourceWhitelist')).toEqual([]);
    expect(argoProjectPermits(argo, 'crypto-aggregator-argocd')(argo.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: 'argocd' } })))).toEqual([]);
  });

  it('applications point at existing paths of this repository, within their project; dev syncs automatically, prod by hand until its images are pinned', () => {
    expect(argoApplications(argo)).toEqual([]);
    const set = find(argo, 'ApplicationSet', 'crypto-aggregator');
    const elements = get(set, 'spec', 'generators', 0, 'list', 'elements') as Record<string, string>[];
    expect(elements.map((e) => `${e.env}:${e.autoSync}`)).toEqual(['dev:true', 'prod:false']);
    // Flipping prod to automated while its overlay still names placeholder images is refused.
    const flipped = structuredClone(argo);
    (get(find(flipped, 'ApplicationSet', 'crypto-aggregator'), 'spec', 'generators', 0, 'list', 'elements', 1) as Record<string, string>).autoSync = 'true';
    expect(argoApplications(flipped)).toEqual([
      expect.stringContaining('syncs gitops/overlays/prod automatically while 5 of its images are not pinned by digest'),
    ]);
  });

  it('the project is restricted to this repository and the two namespaces', () => {
    const project = find(argo, 'AppProject', 'crypto-aggregator');
    expect(get(project, 'spec', 'sourceRepos')).toEqual(['https://github.com/cryptoagg/crypto-aggregator.git']);
    expect(((get(project, 'spec', 'destinations') ?? []) as { namespace: string }[]).map((d) => d.namespace).sort()).toEqual([
      'cryptoagg-dev',
      'cryptoagg-prod',
    ]);
    expect(get(project, 'spec', 'clusterResourceWhitelist')).toEqual([{ group: '', kind: 'Namespace' }]);
  });

  it('the project permits exactly the namespaced kinds the overlays render, nothing more', () => {
    const project = find(argo, 'AppProject', 'crypto-aggregator');
    const permitted = ((get(project, 'spec', 'namespaceResourceWhitelist') ?? []) as { group: string; kind: string }[]).map((e) => `${e.group}/${e.kind}`);
    const rendered = [...(renders.dev ?? []), ...(renders.prod ?? [])].map((o) => `${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}/${o.kind}`);
    expect(permitted.sort()).toEqual([...new Set(rendered)].sort());
  });
});

describe.skipIf(!hasKubectl)('unknown-field detection', () => {
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
    expect(migrateVariables().sort()).toEqual(['DATABASE_URL', 'LOG_LEVEL', 'NODE_ENV']);
  });

  it('the configured ports are the services’ defaults (so local runs and the cluster agree)', () => {
    const parse = (service: string, env: Record<string, string>) => {
      const result = SERVICES[service]?.parse?.(env);
      return result?.ok === true ? result.config.port : result;
    };
    expect([parse('gateway', {}), parse('coins', {}), parse('prices', {})]).toEqual([4000, 4001, 4002]);
  });
});
