/**
 * Every policy catches what it is about: each fixture under ./fixtures breaks
 * one policy (its header says how), and the policy must report exactly the
 * expected violations. manifests.test.ts shows the same policies passing on
 * the real renders, so each is exercised both ways.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type KObject, loadObjects, repoRoot } from './k8s.js';
import * as policies from './policies.js';
import { schemaViolations } from './schemas.js';
import { SERVICES } from './services.js';

const fixturesDir = path.join(repoRoot, 'test/gitops/fixtures');
const argo = readdirSync(path.join(repoRoot, 'gitops/argocd'))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => loadObjects(path.join(repoRoot, 'gitops/argocd', f)));

type Check = (objects: KObject[]) => string[] | Promise<string[]>;

/** fixture file -> the policy it breaks, and what that policy must say (each entry a substring of one violation, in order). */
const CASES: Record<string, { policy: string; check: Check; expected: string[] }> = {
  'no-probes.yaml': {
    policy: 'probes',
    check: policies.probes,
    expected: ['Deployment/coins container coins: no livenessProbe', 'Deployment/coins container coins: no startupProbe'],
  },
  'no-limits.yaml': {
    policy: 'resources',
    check: policies.resources,
    expected: [
      'Deployment/gateway container gateway: no cpu limit',
      'Deployment/gateway container gateway: no memory limit',
      'Job/migrate container migrate: no cpu request',
      'Job/migrate container migrate: no memory request',
      'Job/migrate container migrate: no cpu limit',
      'Job/migrate container migrate: no memory limit',
    ],
  },
  'runs-as-root.yaml': {
    policy: 'securityContext',
    check: policies.securityContext,
    expected: [
      'Deployment/prices: pod securityContext.runAsNonRoot is not true',
      'Deployment/prices: pod securityContext.runAsUser is not a non-zero uid',
      'Deployment/prices: pod seccompProfile is not RuntimeDefault',
      'Deployment/prices container prices: runAsNonRoot is not true',
      'Deployment/prices container prices: runs as root (runAsUser 0)',
      'Deployment/prices container prices: allowPrivilegeEscalation is not false',
      'Deployment/prices container prices: readOnlyRootFilesystem is not true',
      'Deployment/prices container prices: capabilities do not drop ALL',
      'Deployment/prices container prices: seccompProfile is not RuntimeDefault',
    ],
  },
  'image-latest.yaml': {
    policy: 'images',
    check: policies.images,
    expected: [
      'StatefulSet/redis initContainer init: image busybox has no tag',
      'StatefulSet/redis container redis: image redis:latest uses the latest tag',
      'StatefulSet/redis container gateway: image ghcr.io/cryptoagg/crypto-aggregator/gateway:main: our images are referenced by a commit or version tag',
    ],
  },
  'cronjob-allow.yaml': {
    policy: 'cronJobs',
    check: policies.cronJobs,
    expected: [
      'CronJob/fetcher: concurrencyPolicy is Allow (default), not Forbid',
      'CronJob/fetcher: no successfulJobsHistoryLimit',
      'CronJob/fetcher: no failedJobsHistoryLimit',
      'CronJob/fetcher: no startingDeadlineSeconds',
      'CronJob/fetcher: no jobTemplate.spec.backoffLimit',
      'CronJob/fetcher: no jobTemplate.spec.ttlSecondsAfterFinished',
      'CronJob/fetcher: activeDeadlineSeconds 900 does not end a run before the next one (every 600 s)',
      'CronJob/fetcher: restartPolicy is not Never',
      'CronJob/fetcher: schedule */10 * * * * is not */5 * * * *',
    ],
  },
  'redis-no-appendonly.yaml': {
    policy: 'redisPersistence',
    check: policies.redisPersistence,
    expected: [
      'StatefulSet/redis container redis: appendonly is not yes',
      'StatefulSet/redis container redis: appendfsync is not everysec',
      'StatefulSet/redis container redis: the data dir /data is not on a volumeClaimTemplate',
    ],
  },
  'redis-ping-probes.yaml': {
    policy: 'redisProbes',
    check: policies.redisProbes,
    expected: [
      'StatefulSet/redis container redis readinessProbe: passes when Redis replies "LOADING Redis is loading the dataset in memory"',
      'StatefulSet/redis container redis readinessProbe: passes when Redis replies "ERR something went wrong"',
      'StatefulSet/redis container redis livenessProbe: fails when Redis replies "LOADING Redis is loading the dataset in memory"',
      'StatefulSet/redis container redis startupProbe: not an exec probe comparing the reply of redis-cli ping',
    ],
  },
  'service-selects-nothing.yaml': {
    policy: 'serviceSelectors',
    check: policies.serviceSelectors,
    expected: [
      'Service/coins: selector {"app.kubernetes.io/name":"coin"} matches no pod template',
      'Service/gateway: port 4000 targets metrics, which no selected pod exposes',
      'Ingress/gateway: backend Service gateway has no port https',
    ],
  },
  'missing-secret-key.yaml': {
    policy: 'references',
    check: policies.references,
    expected: [
      'Deployment/gateway container gateway: ConfigMap gateway-config does not exist',
      'Deployment/gateway container gateway env SUBGRAPH_SECRET: Secret cryptoagg-subgraph has no key SUBGRAPH_SECRET',
      'Deployment/gateway container gateway env COINGECKO_API_KEY: Secret cryptoagg-coingecko has no key apiKey',
      'Cluster/cryptoagg-db s3Credentials.accessKeyId: Secret backup-s3 does not exist',
      'Cluster/cryptoagg-db s3Credentials.secretAccessKey: Secret backup-s3 does not exist',
    ],
  },
  'prod-plaintext-secret.yaml': {
    policy: 'noPlaintextSecrets',
    check: policies.noPlaintextSecrets,
    expected: ['Secret/cryptoagg-subgraph: a plaintext Secret'],
  },
  'misspelled-fields.yaml': {
    policy: 'schemaViolations',
    check: schemaViolations,
    expected: [
      'apps/v1 Deployment/coins: data/spec/template/spec/terminationGracePeriodSeconds must be integer',
      'apps/v1 Deployment/coins: unknown field metadata.annotation',
      'apps/v1 Deployment/coins: unknown field spec.replica',
      'apps/v1 Deployment/coins: unknown field spec.template.spec.containers[0].readinesProbe',
      'apps/v1 Deployment/coins: unknown field spec.template.spec.containers[0].securityContext.runAsNonroot',
    ],
  },
  'unknown-kind.yaml': {
    policy: 'schemaViolations',
    check: schemaViolations,
    expected: [
      'apps/v1 Deployement/gateway: unknown kind',
      'cert-manager.io/v1 Certificate/api: unknown kind',
      'v1 ServiceSpec/not-a-top-level-kind: unknown kind',
    ],
  },
  'cnpg-misspelled.yaml': {
    policy: 'schemaViolations',
    check: schemaViolations,
    expected: [
      'postgresql.cnpg.io/v1 Cluster/cryptoagg-db: unknown field spec.walStorge',
      'postgresql.cnpg.io/v1 Cluster/cryptoagg-db: unknown field spec.backup.barmanObjectStore.s3Credential',
      'postgresql.cnpg.io/v1 Cluster/cryptoagg-db: spec.instances must be integer',
      'postgresql.cnpg.io/v1 Cluster/cryptoagg-db: unknown field metadata.label',
      "postgresql.cnpg.io/v1 ScheduledBackup/nightly: spec must have required property 'cluster'",
      'barmancloud.cnpg.io/v1 ObjectStore/backups: spec.configuration: serverName must not be set here',
      'barmancloud.cnpg.io/v1 ObjectStore/backups: unknown field spec.configuration.s3Credential',
      'barmancloud.cnpg.io/v1 ObjectStore/backups: spec.retentionPolicy must match pattern "^[1-9][0-9]*[dwm]$"',
    ],
  },
  'argo-missing-path.yaml': {
    policy: 'argoApplications',
    check: policies.argoApplications,
    expected: [
      'repository https://github.com/someone-else/crypto-aggregator.git is not allowed by project crypto-aggregator',
      'path gitops/overlays/staging is not a kustomization (or, for a directory source, a folder of manifests) in this repository',
      'destination https://kubernetes.default.svc cryptoagg-staging is not allowed by project crypto-aggregator',
      'automated sync without prune and selfHeal',
      'no server-side diff (argocd.argoproj.io/compare-options: ServerSideDiff=true)',
      'syncOptions lack ServerSideApply=true',
      'no retry with backoff',
    ],
  },
  'project-kind.yaml': {
    policy: 'argoProjectPermits',
    check: policies.argoProjectPermits(argo),
    expected: [
      'rbac.authorization.k8s.io/v1 ClusterRole/cryptoagg-reader: kind not permitted by AppProject crypto-aggregator',
      'v1 ServiceAccount/gateway: kind not permitted by AppProject crypto-aggregator',
      'ConfigMap/gateway-config: namespace kube-system not a destination of AppProject crypto-aggregator',
    ],
  },
  'unknown-env-var.yaml': {
    policy: 'configDrift',
    check: policies.configDrift(SERVICES),
    expected: [
      'Deployment/coins container coins: sets REDIS_URI, which coins does not read',
      'Deployment/coins container coins: sets FETCH_CURRENCIES, which coins does not read',
      'Deployment/coins container coins: invalid configuration: CACHE_TTL_SECONDS: must be a whole number between 1 and 86400',
      'Deployment/gateway container gateway: COINS_URL points at coin, which is no Service of the namespace',
      'FETCH_CURRENCIES differs between services: default/Deployment/prices container prices = value usd,eur; default/CronJob/fetcher container fetcher = value usd,eur,btc',
    ],
  },
  'port-drift.yaml': {
    policy: 'configDrift',
    check: policies.configDrift(SERVICES),
    expected: [
      'Deployment/coins container coins: invalid configuration: DATABASE_URL: is required when NODE_ENV=production',
      'Deployment/coins container coins: invalid configuration: SUBGRAPH_SECRET: is required when NODE_ENV=production',
      'Deployment/prices container prices: no container port named http (the service listens on 4002)',
      'Deployment/prices container prices: METRICS_PORT is not set: /metrics would be served on the public port 4002',
      'Deployment/prices container prices: readinessProbe is not an HTTP GET of /readyz',
      'Deployment/prices container prices: livenessProbe is not an HTTP GET of /healthz',
      'Deployment/prices container prices: startupProbe is not an HTTP GET of /healthz',
      'Deployment/coins-cached container coins: container port metrics is 9465, METRICS_PORT is 9464',
      'Deployment/coins-cached container coins: readinessProbe does not exclude redis (/readyz?exclude=redis)',
      'CronJob/fetcher container fetcher: activeDeadlineSeconds 120 does not outlast FETCH_DEADLINE_SECONDS (240)',
      'CronJob/fetcher container fetcher: MIGRATE_ON_START is not false, although the migrate hook Job runs the migrations',
      'REDIS_URL differs between services: default/Deployment/coins container coins = unset (default);',
    ],
  },
  'hpa-with-replicas.yaml': {
    policy: 'hpaOwnsReplicas',
    check: policies.hpaOwnsReplicas,
    expected: [
      'Deployment/gateway: sets replicas although HorizontalPodAutoscaler/gateway owns them',
      'HorizontalPodAutoscaler/coins: target Deployment/coin is not in the render',
    ],
  },
  'no-graceful-stop.yaml': {
    policy: 'workloadShape',
    check: policies.workloadShape,
    expected: [
      'Deployment/gateway: no container port named http',
      'Deployment/gateway: no preStop pause',
      'Deployment/gateway: terminationGracePeriodSeconds 5 does not cover the preStop pause and the 10 s drain',
      'Deployment/gateway: no emptyDir at /tmp',
      'Deployment/gateway: no topologySpreadConstraints',
      'Deployment/gateway: enableServiceLinks is not false',
      'Deployment/gateway: no Service selects its pods',
      'Deployment/gateway: no PodDisruptionBudget selects its pods',
    ],
  },
  'no-default-deny.yaml': {
    policy: 'networkPolicyCoverage',
    check: policies.networkPolicyCoverage,
    expected: [
      'namespace default: no default-deny NetworkPolicy',
      'Deployment/gateway: cannot reach DNS (UDP 53)',
      'Deployment/gateway: cannot reach DNS (TCP 53)',
      'CronJob/fetcher: selected by no NetworkPolicy of its own',
    ],
  },
  'network-too-open.yaml': {
    policy: 'networkFlows',
    check: policies.networkFlows,
    expected: [
      'network: gateway (Deployment/gateway) -> postgres (StatefulSet/cryptoagg-db):5432 is allowed but not needed',
      'network: Prometheus -> gateway (Deployment/gateway):4000 is allowed but not needed',
      'network: coins (Deployment/coins) -> redis (StatefulSet/redis):6379 is needed but blocked by the egress side',
      'network: the ingress controller -> coins (Deployment/coins):4001 is allowed but not needed',
      'network: Prometheus -> coins (Deployment/coins):4001 is allowed but not needed',
      'network: fetcher (CronJob/fetcher) -> redis (StatefulSet/redis):6379 is needed but blocked by the ingress side',
      'network: fetcher (CronJob/fetcher) -> the internet (203.0.113.10):80 is allowed but not needed',
      'network: fetcher (CronJob/fetcher) -> the internet (203.0.113.10):6443 is allowed but not needed',
      'network: fetcher (CronJob/fetcher) -> a private address (10.1.2.3):443 is allowed but not needed',
      'network: fetcher (CronJob/fetcher) -> a private address (10.1.2.3):80 is allowed but not needed',
      'network: fetcher (CronJob/fetcher) -> a private address (10.1.2.3):6443 is allowed but not needed',
      'network: the ingress controller -> cert-manager-http01-solver:8089 is needed but blocked',
    ],
  },
  'metrics-public.yaml': {
    policy: 'privateMetrics',
    check: policies.privateMetrics,
    expected: [
      'PodMonitor/redis: selects no pod',
      'ServiceMonitor/gateway: scrapes Deployment/gateway on port http, not its metrics port',
      'ServiceMonitor/gateway: scrapes /stats, not /metrics',
      'Service/gateway: port 9464 exposes the metrics port of Deployment/gateway to clients',
    ],
  },
  'ingress-too-open.yaml': {
    policy: 'ingressPublicPaths',
    check: policies.ingressPublicPaths,
    expected: [
      'Ingress/gateway: /metrics is public (rule / Prefix)',
      'Ingress/gateway: /healthz is public (rule / Prefix)',
      'Ingress/gateway: /readyz is public (rule / Prefix)',
      'Ingress/gateway: /readyz?exclude=redis is public (rule / Prefix)',
      'Ingress/gateway: /unknown is public (rule / Prefix)',
      'Ingress/graphql-only: / is not routed',
      'Ingress/graphql-only: /docs is not routed',
      'Ingress/graphql-only: /docs/index.html is not routed',
    ],
  },
  'external-secret-drift.yaml': {
    policy: 'externalSecretDefaults',
    check: policies.externalSecretDefaults,
    expected: [
      'ExternalSecret/cryptoagg-subgraph spec.target: no deletionPolicy',
      'ExternalSecret/cryptoagg-subgraph data secret: no decodingStrategy',
      'ExternalSecret/cryptoagg-subgraph data secret: no metadataPolicy',
      'ExternalSecret/cryptoagg-subgraph dataFrom[0].extract: no conversionStrategy',
      'ExternalSecret/cryptoagg-subgraph dataFrom[0].extract: no decodingStrategy',
    ],
  },
  'statefulset-no-headless.yaml': {
    policy: 'statefulSetService',
    check: policies.statefulSetService,
    expected: [
      'StatefulSet/cryptoagg-db: serviceName cryptoagg-db-rw is not a headless Service (clusterIP: None)',
      'StatefulSet/redis: serviceName redis-headless is not a Service of the namespace',
    ],
  },
  'cnpg-in-tree-backup.yaml': {
    policy: 'cnpgBackups',
    check: policies.cnpgBackups,
    expected: [
      'Cluster/cryptoagg-db: backs up with the deprecated in-tree barmanObjectStore, not the Barman Cloud plugin',
      'Cluster/cryptoagg-db: no barman-cloud.cloudnative-pg.io plugin: no WAL archive, no point-in-time recovery',
      'Cluster/cryptoagg-db: podAntiAffinityType is not required: two instances may run on one node and fail together',
      'ScheduledBackup/nightly: does not back up through the barman-cloud.cloudnative-pg.io plugin (method barmanObjectStore)',
      'Cluster/other-db: the barman-cloud.cloudnative-pg.io plugin is not the WAL archiver',
      'Cluster/other-db: barmanObjectName other-backups is no ObjectStore of the render',
      'Cluster/other-db: no ScheduledBackup',
    ],
  },
  'wave-order.yaml': {
    policy: 'syncWaves',
    check: policies.syncWaves,
    expected: [
      'Deployment/gateway: no numeric argocd.argoproj.io/sync-wave annotation',
      'StatefulSet/cryptoagg-db: wave -2 is not after the configuration (wave 0)',
      'Deployment/gateway: wave 0 is not after the subgraphs (wave 1)',
      'CronJob/fetcher: wave 0 is not after the gateway (wave 0)',
      'Job/migrate: argocd.argoproj.io/hook is PreSync, not Sync',
      'Job/migrate: hook-delete-policy lacks BeforeHookCreation',
    ],
  },
};

describe('each policy reports its broken fixture', () => {
  it('every fixture file has a case, and every policy at least one fixture', () => {
    const files = readdirSync(fixturesDir).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(Object.keys(CASES).sort());
    const covered = new Set(Object.values(CASES).map((c) => c.policy));
    const all = [...Object.keys(policies.RENDER_POLICIES), 'noPlaintextSecrets', 'argoApplications', 'argoProjectPermits', 'configDrift', 'schemaViolations'];
    expect(all.filter((p) => !covered.has(p))).toEqual([]);
  });

  it.each(Object.entries(CASES))('%s', async (file, { check, expected }) => {
    const violations = await check(loadObjects(path.join(fixturesDir, file)));
    expect(violations).toEqual(expected.map((text): unknown => expect.stringContaining(text)));
  });
});
