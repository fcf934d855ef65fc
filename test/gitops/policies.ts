/**
 * Deployment policies as pure functions of a set of objects (a render, or a
 * small fixture): each returns its violations, empty when the objects comply.
 * test/gitops/manifests.test.ts runs them on both overlays;
 * test/gitops/fixtures.test.ts shows each one catching a broken fixture.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import {
  HTTP01_SOLVER_LABEL,
  type KObject,
  type LabelSelector,
  type Labels,
  type PodModel,
  type Workload,
  annotation,
  containers,
  get,
  id,
  imageName,
  imageTag,
  isRecord,
  namespaceOf,
  pods,
  repoRoot,
  selectorMatches,
  workloads,
} from './k8s.js';
import { parse as parseYaml } from 'yaml';
import { type Endpoint, connectionAllowed, networkPolicies, policyTypes } from './netpol.js';

export type Policy = (objects: KObject[]) => string[];

/** What every service does on SIGTERM: finish requests in flight for up to 10 s (contract, section 5). */
const DRAIN_SECONDS = 10;
/** The fetcher's schedule (contract, section 6). */
const FETCHER_SCHEDULE = '*/5 * * * *';
/** Our images: tags must name a build (commit SHA or version), never a moving tag. */
const OWN_IMAGES = 'ghcr.io/cryptoagg/';
const IMMUTABLE_TAG = /^(sha-[0-9a-f]{7,40}|[0-9a-f]{7,40}|v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?)$/;

/** What a pod is, by app.kubernetes.io/name; cert-manager's HTTP-01 solver carries only its own label. */
const appOf = (labels: Labels | undefined) =>
  labels?.['app.kubernetes.io/name'] ?? (labels?.[HTTP01_SOLVER_LABEL] === 'true' ? 'cert-manager-http01-solver' : undefined);

// --- pods and containers --------------------------------------------------------

/** Readiness, liveness and startup probes on every container of a long-running workload. */
export const probes: Policy = (objects) =>
  containers(objects)
    .filter(({ workload, init }) => workload.longRunning && !init)
    .flatMap(({ container, where }) =>
      (['readinessProbe', 'livenessProbe', 'startupProbe'] as const).filter((p) => container[p] === undefined).map((p) => `${where}: no ${p}`),
    );

/** CPU and memory requests and limits on every container, init containers and jobs included. */
export const resources: Policy = (objects) =>
  containers(objects).flatMap(({ container, where }) =>
    (['requests', 'limits'] as const).flatMap((kind) =>
      ['cpu', 'memory']
        .filter((r) => container.resources?.[kind]?.[r] === undefined)
        .map((r) => `${where}: no ${r} ${kind === 'requests' ? 'request' : 'limit'}`),
    ),
  );

/** Non-root, read-only, no privilege escalation, no capabilities, RuntimeDefault seccomp: at pod and container level. */
export const securityContext: Policy = (objects) => {
  const violations: string[] = [];
  for (const workload of workloads(objects)) {
    const pod = workload.spec.securityContext ?? {};
    if (pod.runAsNonRoot !== true) violations.push(`${workload.id}: pod securityContext.runAsNonRoot is not true`);
    if (pod.runAsUser === undefined || pod.runAsUser === 0) violations.push(`${workload.id}: pod securityContext.runAsUser is not a non-zero uid`);
    if (pod.seccompProfile?.type !== 'RuntimeDefault') violations.push(`${workload.id}: pod seccompProfile is not RuntimeDefault`);
    for (const flag of ['hostNetwork', 'hostPID', 'hostIPC'] as const) if (workload.spec[flag] === true) violations.push(`${workload.id}: ${flag}`);
    for (const container of [...(workload.spec.initContainers ?? []), ...workload.spec.containers]) {
      const where = `${workload.id} container ${container.name}`;
      const sc = container.securityContext ?? {};
      if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) violations.push(`${where}: runAsNonRoot is not true`);
      const uid = sc.runAsUser ?? pod.runAsUser;
      if (uid === undefined || uid === 0) violations.push(`${where}: runs as root (runAsUser ${uid ?? 'unset'})`);
      if (sc.allowPrivilegeEscalation !== false) violations.push(`${where}: allowPrivilegeEscalation is not false`);
      if (sc.readOnlyRootFilesystem !== true) violations.push(`${where}: readOnlyRootFilesystem is not true`);
      if (sc.privileged === true) violations.push(`${where}: privileged`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) violations.push(`${where}: capabilities do not drop ALL`);
      if ((sc.capabilities?.add ?? []).length > 0) violations.push(`${where}: adds capabilities`);
      if ((sc.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault') violations.push(`${where}: seccompProfile is not RuntimeDefault`);
    }
  }
  return violations;
};

function checkImage(image: string, where: string): string[] {
  const { tag, digest } = imageTag(image);
  // A digest is only ever read from a registry (pin-images.yml, the release's build output): a malformed one was typed by hand.
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) return [`${where}: image ${image}: ${digest} is not a sha256 digest`];
  if (tag === undefined && digest === undefined) return [`${where}: image ${image} has no tag (means latest)`];
  if (tag === 'latest') return [`${where}: image ${image} uses the latest tag`];
  if (image.startsWith(OWN_IMAGES) && digest === undefined && !IMMUTABLE_TAG.test(tag ?? '')) {
    return [`${where}: image ${image}: our images are referenced by a commit or version tag`];
  }
  return [];
}

/** Every image (containers, and the PostgreSQL image of a CloudNativePG Cluster) tagged, never latest. */
export const images: Policy = (objects) => [
  ...containers(objects).flatMap(({ container, where }) => (container.image === undefined ? [`${where}: no image`] : checkImage(container.image, where))),
  ...objects
    .filter((o) => o.apiVersion.startsWith('postgresql.cnpg.io/') && o.kind === 'Cluster')
    .flatMap((o) => {
      const image = get(o, 'spec', 'imageName');
      return typeof image === 'string' ? checkImage(image, id(o)) : [`${id(o)}: no spec.imageName (the operator's default image moves with the operator)`];
    }),
];

/** Seconds between runs of a `*\/N * * * *` schedule (undefined for other shapes). */
function intervalSeconds(schedule: string): number | undefined {
  const match = /^\*\/(\d+) \* \* \* \*$/.exec(schedule.trim());
  return match?.[1] === undefined ? undefined : Number(match[1]) * 60;
}

/** CronJobs: Forbid, bounded history, a start deadline, a bounded job that finishes before the next run, restartPolicy Never. */
export const cronJobs: Policy = (objects) => {
  const violations: string[] = [];
  for (const cron of objects.filter((o) => o.kind === 'CronJob')) {
    const where = id(cron);
    const spec = (cron.spec ?? {}) as Record<string, unknown>;
    const schedule = typeof spec.schedule === 'string' ? spec.schedule : '';
    if (spec.concurrencyPolicy !== 'Forbid')
      violations.push(`${where}: concurrencyPolicy is ${typeof spec.concurrencyPolicy === 'string' ? spec.concurrencyPolicy : 'Allow (default)'}, not Forbid`);
    for (const field of ['successfulJobsHistoryLimit', 'failedJobsHistoryLimit', 'startingDeadlineSeconds']) {
      if (typeof spec[field] !== 'number') violations.push(`${where}: no ${field}`);
    }
    const job = get(cron, 'spec', 'jobTemplate', 'spec');
    for (const field of ['backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished']) {
      if (typeof get(job, field) !== 'number') violations.push(`${where}: no jobTemplate.spec.${field}`);
    }
    const deadline = get(job, 'activeDeadlineSeconds');
    const interval = intervalSeconds(schedule);
    if (typeof deadline === 'number' && interval !== undefined && deadline >= interval) {
      violations.push(`${where}: activeDeadlineSeconds ${deadline} does not end a run before the next one (every ${interval} s)`);
    }
    if (get(job, 'template', 'spec', 'restartPolicy') !== 'Never') violations.push(`${where}: restartPolicy is not Never`);
    if (cron.metadata.name === 'fetcher' && schedule !== FETCHER_SCHEDULE) violations.push(`${where}: schedule ${schedule} is not ${FETCHER_SCHEDULE}`);
  }
  return violations;
};

// --- Redis ---------------------------------------------------------------------------

const isRedis = (c: IContainer) => c.image !== undefined && imageName(c.image) === 'redis';

function configMapData(objects: KObject[], namespace: string, name: string): Record<string, string> | undefined {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name && namespaceOf(o) === namespace);
  const data = cm === undefined ? undefined : get(cm, 'data');
  return isRecord(data) ? (data as Record<string, string>) : cm === undefined ? undefined : {};
}

/** The Redis directives a container runs with: its config file (from a ConfigMap volume) and `--key value` arguments. */
function redisDirectives(objects: KObject[], workload: Workload, container: IContainer): { directives: Map<string, string>; problems: string[] } {
  const directives = new Map<string, string>();
  const problems: string[] = [];
  const argv = [...(container.command ?? []), ...(container.args ?? [])];
  const configFile = argv.find((a) => a.endsWith('.conf'));
  if (configFile !== undefined) {
    const mount = (container.volumeMounts ?? []).find((m) => configFile.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
    const volume = workload.spec.volumes?.find((v) => v.name === mount?.name);
    const data = volume?.configMap?.name === undefined ? undefined : configMapData(objects, workload.namespace, volume.configMap.name);
    const text = data?.[path.basename(configFile)];
    if (text === undefined) problems.push(`config file ${configFile} does not come from a ConfigMap in the render`);
    for (const line of (text ?? '').split('\n')) {
      const match = /^\s*([a-z-]+)\s+(.*?)\s*$/.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined && !line.trim().startsWith('#')) directives.set(match[1], match[2].replace(/^"(.*)"$/, '$1'));
    }
  }
  argv.forEach((arg, i) => {
    const value = argv[i + 1];
    if (arg.startsWith('--') && value !== undefined) directives.set(arg.slice(2), value);
  });
  return { directives, problems };
}

/** Redis: a StatefulSet with a PVC template mounted at its data dir, appendonly yes, appendfsync everysec. */
export const redisPersistence: Policy = (objects) => {
  const violations: string[] = [];
  for (const workload of workloads(objects)) {
    for (const container of workload.spec.containers.filter(isRedis)) {
      const where = `${workload.id} container ${container.name}`;
      const { directives, problems } = redisDirectives(objects, workload, container);
      violations.push(...problems.map((p) => `${where}: ${p}`));
      if (directives.get('appendonly') !== 'yes') violations.push(`${where}: appendonly is not yes`);
      if (directives.get('appendfsync') !== 'everysec') violations.push(`${where}: appendfsync is not everysec`);
      if (workload.object.kind !== 'StatefulSet') {
        violations.push(`${where}: Redis runs in a ${workload.object.kind}, not a StatefulSet with a volumeClaimTemplate`);
        continue;
      }
      const templates = (get(workload.object, 'spec', 'volumeClaimTemplates') ?? []) as { metadata?: { name?: string } }[];
      const dir = directives.get('dir') ?? '/data';
      const mount = (container.volumeMounts ?? []).find((m) => m.mountPath.replace(/\/$/, '') === dir.replace(/\/$/, ''));
      if (mount === undefined || !templates.some((t) => t.metadata?.name === mount.name)) {
        violations.push(`${where}: the data dir ${dir} is not on a volumeClaimTemplate`);
      }
    }
  }
  return violations;
};

/** Runs a probe's exec command with a fake redis-cli that answers `reply` (exit code `exit`); true when the probe passes. */
function probePasses(command: string[], stubDir: string, reply: string, exit: number): boolean {
  const [file, ...args] = command;
  if (file === undefined) return false;
  try {
    execFileSync(file, args, {
      env: { ...process.env, PATH: `${stubDir}:${process.env.PATH ?? ''}`, FAKE_REDIS_REPLY: reply, FAKE_REDIS_EXIT: String(exit) },
      stdio: 'ignore',
      timeout: 5_000,
    });
    return true;
  } catch {
    return false;
  }
}

const REDIS_REPLIES = {
  PONG: { reply: 'PONG', exit: 0 },
  LOADING: { reply: 'LOADING Redis is loading the dataset in memory', exit: 0 },
  error: { reply: 'ERR something went wrong', exit: 0 },
  refused: { reply: '', exit: 1 },
} as const;

/**
 * Redis probes compare the reply (`redis-cli ping` exits 0 on an error reply):
 * each exec probe is run against a fake redis-cli. Readiness passes on PONG
 * only; liveness and startup pass on PONG and on LOADING (an append-only file
 * replay must not get the pod killed), and fail when Redis does not answer.
 */
export const redisProbes: Policy = (objects) => {
  const targets = workloads(objects).flatMap((w) => w.spec.containers.filter(isRedis).map((c) => ({ w, c })));
  if (targets.length === 0) return [];
  const stubDir = mkdtempSync(path.join(tmpdir(), 'fake-redis-cli-'));
  const stub = path.join(stubDir, 'redis-cli');
  writeFileSync(stub, '#!/bin/sh\nprintf \'%s\\n\' "$FAKE_REDIS_REPLY"\nexit "$FAKE_REDIS_EXIT"\n');
  chmodSync(stub, 0o755);
  const expect: Record<'readinessProbe' | 'livenessProbe' | 'startupProbe', Record<keyof typeof REDIS_REPLIES, boolean>> = {
    readinessProbe: { PONG: true, LOADING: false, error: false, refused: false },
    livenessProbe: { PONG: true, LOADING: true, error: false, refused: false },
    startupProbe: { PONG: true, LOADING: true, error: false, refused: false },
  };
  const violations: string[] = [];
  try {
    for (const { w, c } of targets) {
      for (const [probeName, outcomes] of Object.entries(expect) as [keyof typeof expect, Record<keyof typeof REDIS_REPLIES, boolean>][]) {
        const where = `${w.id} container ${c.name} ${probeName}`;
        const probe: IProbe | undefined = c[probeName];
        const command = probe?.exec?.command;
        if (command === undefined) {
          violations.push(`${where}: not an exec probe comparing the reply of redis-cli ping`);
          continue;
        }
        for (const [name, { reply, exit }] of Object.entries(REDIS_REPLIES) as [keyof typeof REDIS_REPLIES, { reply: string; exit: number }][]) {
          const passes = probePasses(command, stubDir, reply, exit);
          if (passes !== outcomes[name])
            violations.push(
              `${where}: ${passes ? 'passes' : 'fails'} when Redis replies ${name === 'refused' ? 'nothing (connection refused)' : JSON.stringify(reply)}`,
            );
        }
      }
    }
  } finally {
    rmSync(stubDir, { recursive: true, force: true });
  }
  return violations;
};

// --- Services, references ------------------------------------------------------

/** Every Service selects pods (with its target ports); every Ingress backend is a Service port. */
export const serviceSelectors: Policy = (objects) => {
  const violations: string[] = [];
  const allPods = pods(objects);
  for (const service of objects.filter((o) => o.kind === 'Service')) {
    const selector = get(service, 'spec', 'selector') as Labels | undefined;
    if (selector === undefined || Object.keys(selector).length === 0) {
      violations.push(`${id(service)}: no selector`);
      continue;
    }
    const selected = allPods.filter((p) => p.namespace === namespaceOf(service) && selectorMatches({ matchLabels: selector }, p.labels));
    if (selected.length === 0) {
      violations.push(`${id(service)}: selector ${JSON.stringify(selector)} matches no pod template`);
      continue;
    }
    for (const port of (get(service, 'spec', 'ports') ?? []) as { port: number; targetPort?: number | string }[]) {
      const target = port.targetPort ?? port.port;
      if (!selected.some((p) => p.ports.some((cp) => (typeof target === 'string' ? cp.name === target : cp.port === target)))) {
        violations.push(`${id(service)}: port ${port.port} targets ${target}, which no selected pod exposes`);
      }
    }
  }
  for (const ingress of objects.filter((o) => o.kind === 'Ingress')) {
    const backends = (
      (get(ingress, 'spec', 'rules') ?? []) as {
        http?: { paths?: { backend?: { service?: { name: string; port?: { name?: string; number?: number } } } }[] };
      }[]
    )
      .flatMap((r) => r.http?.paths ?? [])
      .map((p) => p.backend?.service)
      .filter((s) => s !== undefined);
    for (const backend of backends) {
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === backend.name && namespaceOf(o) === namespaceOf(ingress));
      const ports = (get(service, 'spec', 'ports') ?? []) as { name?: string; port: number }[];
      if (service === undefined) violations.push(`${id(ingress)}: backend Service ${backend.name} does not exist`);
      else if (!ports.some((p) => (backend.port?.name !== undefined ? p.name === backend.port.name : p.port === backend.port?.number))) {
        violations.push(`${id(ingress)}: backend Service ${backend.name} has no port ${backend.port?.name ?? backend.port?.number}`);
      }
    }
  }
  return violations;
};

/** Keys of the Secret CloudNativePG generates for a Cluster's application user (`<cluster>-app`). */
const CNPG_APP_SECRET_KEYS = ['username', 'user', 'password', 'host', 'port', 'dbname', 'uri', 'jdbc-uri', 'fqdn-uri', 'fqdn-jdbc-uri', 'pgpass'];

type Keys = Set<string> | 'any';

/** namespace/name -> keys, for every Secret the render holds or makes some controller create. */
function availableSecrets(objects: KObject[]): Map<string, Keys> {
  const secrets = new Map<string, Keys>();
  for (const o of objects) {
    const ns = namespaceOf(o);
    if (o.kind === 'Secret' && o.apiVersion === 'v1') {
      secrets.set(
        `${ns}/${o.metadata.name}`,
        new Set([...Object.keys((o.data as object | undefined) ?? {}), ...Object.keys((o.stringData as object | undefined) ?? {})]),
      );
    } else if (o.kind === 'SealedSecret' && o.apiVersion.startsWith('bitnami.com/')) {
      const name = (get(o, 'spec', 'template', 'metadata', 'name') as string | undefined) ?? o.metadata.name;
      secrets.set(`${ns}/${name}`, new Set(Object.keys((get(o, 'spec', 'encryptedData') as object | undefined) ?? {})));
    } else if (o.kind === 'ExternalSecret' && o.apiVersion.startsWith('external-secrets.io/')) {
      const name = (get(o, 'spec', 'target', 'name') as string | undefined) ?? o.metadata.name;
      const dataFrom = (get(o, 'spec', 'dataFrom') ?? []) as unknown[];
      const keys = [
        ...((get(o, 'spec', 'data') ?? []) as { secretKey: string }[]).map((d) => d.secretKey),
        ...Object.keys((get(o, 'spec', 'target', 'template', 'data') as object | undefined) ?? {}),
      ];
      secrets.set(`${ns}/${name}`, dataFrom.length > 0 ? 'any' : new Set(keys));
    } else if (o.kind === 'Cluster' && o.apiVersion.startsWith('postgresql.cnpg.io/')) {
      secrets.set(`${ns}/${o.metadata.name}-app`, new Set(CNPG_APP_SECRET_KEYS));
      if (get(o, 'spec', 'enableSuperuserAccess') === true) secrets.set(`${ns}/${o.metadata.name}-superuser`, new Set(CNPG_APP_SECRET_KEYS));
    } else if (o.kind === 'Ingress' && (annotation(o, 'cert-manager.io/cluster-issuer') ?? annotation(o, 'cert-manager.io/issuer')) !== undefined) {
      for (const tls of (get(o, 'spec', 'tls') ?? []) as { secretName?: string }[]) {
        if (tls.secretName !== undefined) secrets.set(`${ns}/${tls.secretName}`, new Set(['tls.crt', 'tls.key', 'ca.crt']));
      }
    }
  }
  return secrets;
}

function availableConfigMaps(objects: KObject[]): Map<string, Keys> {
  return new Map(
    objects
      .filter((o) => o.kind === 'ConfigMap')
      .map((o) => [
        `${namespaceOf(o)}/${o.metadata.name}`,
        new Set([...Object.keys((o.data as object | undefined) ?? {}), ...Object.keys((o.binaryData as object | undefined) ?? {})]),
      ]),
  );
}

/**
 * Every Secret and ConfigMap a pod or a Cluster references (envFrom,
 * secretKeyRef, configMapKeyRef, volumes, image pull secrets, backup
 * credentials, TLS) exists in the render with that key, or is created by a
 * controller from an object in the render. Optional references included: a
 * misspelled optional name fails silently in the cluster.
 */
export const references: Policy = (objects) => {
  const secrets = availableSecrets(objects);
  const configMaps = availableConfigMaps(objects);
  const violations: string[] = [];
  const check = (kind: 'Secret' | 'ConfigMap', namespace: string, name: string | undefined, key: string | undefined, where: string) => {
    const keys = (kind === 'Secret' ? secrets : configMaps).get(`${namespace}/${name}`);
    if (keys === undefined) violations.push(`${where}: ${kind} ${name} does not exist`);
    else if (key !== undefined && keys !== 'any' && !keys.has(key)) violations.push(`${where}: ${kind} ${name} has no key ${key}`);
  };
  for (const workload of workloads(objects)) {
    const ns = workload.namespace;
    for (const c of [...(workload.spec.initContainers ?? []), ...workload.spec.containers]) {
      const where = `${workload.id} container ${c.name}`;
      for (const from of c.envFrom ?? []) {
        if (from.configMapRef !== undefined) check('ConfigMap', ns, from.configMapRef.name, undefined, where);
        if (from.secretRef !== undefined) check('Secret', ns, from.secretRef.name, undefined, where);
      }
      for (const env of c.env ?? []) {
        const s = env.valueFrom?.secretKeyRef;
        const m = env.valueFrom?.configMapKeyRef;
        if (s !== undefined) check('Secret', ns, s.name, s.key, `${where} env ${env.name}`);
        if (m !== undefined) check('ConfigMap', ns, m.name, m.key, `${where} env ${env.name}`);
      }
    }
    const volumes: IVolume[] = workload.spec.volumes ?? [];
    for (const v of volumes) {
      const where = `${workload.id} volume ${v.name}`;
      if (v.secret !== undefined) {
        if ((v.secret.items ?? []).length === 0) check('Secret', ns, v.secret.secretName, undefined, where);
        for (const item of v.secret.items ?? []) check('Secret', ns, v.secret.secretName, item.key, where);
      }
      if (v.configMap !== undefined) {
        if ((v.configMap.items ?? []).length === 0) check('ConfigMap', ns, v.configMap.name, undefined, where);
        for (const item of v.configMap.items ?? []) check('ConfigMap', ns, v.configMap.name, item.key, where);
      }
      for (const source of v.projected?.sources ?? []) {
        if (source.secret !== undefined) check('Secret', ns, source.secret.name, undefined, where);
        if (source.configMap !== undefined) check('ConfigMap', ns, source.configMap.name, undefined, where);
      }
    }
    for (const pull of workload.spec.imagePullSecrets ?? []) check('Secret', ns, pull.name, undefined, `${workload.id} imagePullSecrets`);
  }
  for (const store of objects.filter((o) => o.kind === 'ObjectStore' && o.apiVersion.startsWith('barmancloud.cnpg.io/'))) {
    const credentials = get(store, 'spec', 'configuration', 's3Credentials');
    for (const [field, ref] of Object.entries(isRecord(credentials) ? credentials : {})) {
      if (isRecord(ref) && typeof ref.name === 'string')
        check('Secret', namespaceOf(store), ref.name, ref.key as string | undefined, `${id(store)} s3Credentials.${field}`);
    }
  }
  for (const cluster of objects.filter((o) => o.kind === 'Cluster' && o.apiVersion.startsWith('postgresql.cnpg.io/'))) {
    const credentials = get(cluster, 'spec', 'backup', 'barmanObjectStore', 's3Credentials');
    for (const [field, ref] of Object.entries(isRecord(credentials) ? credentials : {})) {
      if (isRecord(ref) && typeof ref.name === 'string')
        check('Secret', namespaceOf(cluster), ref.name, ref.key as string | undefined, `${id(cluster)} s3Credentials.${field}`);
    }
    for (const field of ['superuserSecret']) {
      const name = get(cluster, 'spec', field, 'name');
      if (typeof name === 'string') check('Secret', namespaceOf(cluster), name, undefined, `${id(cluster)} ${field}`);
    }
    const initdbSecret = get(cluster, 'spec', 'bootstrap', 'initdb', 'secret', 'name');
    if (typeof initdbSecret === 'string') check('Secret', namespaceOf(cluster), initdbSecret, undefined, `${id(cluster)} bootstrap.initdb.secret`);
  }
  for (const ingress of objects.filter((o) => o.kind === 'Ingress')) {
    for (const tls of (get(ingress, 'spec', 'tls') ?? []) as { secretName?: string }[]) {
      if (tls.secretName !== undefined) check('Secret', namespaceOf(ingress), tls.secretName, undefined, `${id(ingress)} tls`);
    }
  }
  return violations;
};

/** Fields of an ExternalSecret that the operator fills in with its default when they are missing. */
const EXTERNAL_SECRET_DEFAULTS = {
  target: ['creationPolicy', 'deletionPolicy'],
  remoteRef: ['conversionStrategy', 'decodingStrategy', 'metadataPolicy'],
  extract: ['conversionStrategy', 'decodingStrategy'],
} as const;

/**
 * ExternalSecrets spell out every field the operator defaults: otherwise the
 * live object differs from git forever (Argo CD shows OutOfSync, and each
 * self-heal sync re-runs the migration hook).
 */
export const externalSecretDefaults: Policy = (objects) => {
  const violations: string[] = [];
  for (const es of objects.filter((o) => o.kind === 'ExternalSecret' && o.apiVersion.startsWith('external-secrets.io/'))) {
    const missing = (value: unknown, fields: readonly string[], where: string) => {
      for (const field of fields)
        if (get(value, field) === undefined) violations.push(`${id(es)} ${where}: no ${field} (the operator writes its default: a permanent diff)`);
    };
    missing(get(es, 'spec', 'target') ?? {}, EXTERNAL_SECRET_DEFAULTS.target, 'spec.target');
    ((get(es, 'spec', 'data') ?? []) as { secretKey?: string; remoteRef?: unknown }[]).forEach((d) =>
      missing(d.remoteRef ?? {}, EXTERNAL_SECRET_DEFAULTS.remoteRef, `data ${d.secretKey ?? ''}`),
    );
    ((get(es, 'spec', 'dataFrom') ?? []) as { extract?: unknown }[]).forEach((d, i) => {
      if (d.extract !== undefined) missing(d.extract, EXTERNAL_SECRET_DEFAULTS.extract, `dataFrom[${i}].extract`);
    });
  }
  return violations;
};

/** A StatefulSet is governed by a headless Service of its namespace that selects its pods (stable per-pod DNS). */
export const statefulSetService: Policy = (objects) => {
  const violations: string[] = [];
  for (const workload of workloads(objects).filter((w) => w.object.kind === 'StatefulSet')) {
    const name = get(workload.object, 'spec', 'serviceName');
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === name && namespaceOf(o) === workload.namespace);
    if (typeof name !== 'string' || name === '') violations.push(`${workload.id}: no serviceName`);
    else if (service === undefined) violations.push(`${workload.id}: serviceName ${name} is not a Service of the namespace`);
    else {
      if (get(service, 'spec', 'clusterIP') !== 'None') violations.push(`${workload.id}: serviceName ${name} is not a headless Service (clusterIP: None)`);
      const selector = get(service, 'spec', 'selector') as Labels | undefined;
      if (selector === undefined || !selectorMatches({ matchLabels: selector }, workload.template.metadata?.labels ?? {}))
        violations.push(`${workload.id}: Service ${name} does not select its pods`);
    }
  }
  return violations;
};

const BARMAN_CLOUD_PLUGIN = 'barman-cloud.cloudnative-pg.io';

/**
 * CloudNativePG: WAL archive and backups through the Barman Cloud plugin
 * (the in-tree barmanObjectStore is deprecated) into an ObjectStore of the
 * render, scheduled backups through the plugin, and instances that never share
 * a node (required anti-affinity).
 */
export const cnpgBackups: Policy = (objects) => {
  const violations: string[] = [];
  const stores = new Set(
    objects.filter((o) => o.kind === 'ObjectStore' && o.apiVersion.startsWith('barmancloud.cnpg.io/')).map((o) => `${namespaceOf(o)}/${o.metadata.name}`),
  );
  const scheduled = objects.filter((o) => o.kind === 'ScheduledBackup' && o.apiVersion.startsWith('postgresql.cnpg.io/'));
  for (const cluster of objects.filter((o) => o.kind === 'Cluster' && o.apiVersion.startsWith('postgresql.cnpg.io/'))) {
    const where = id(cluster);
    if (get(cluster, 'spec', 'backup', 'barmanObjectStore') !== undefined)
      violations.push(`${where}: backs up with the deprecated in-tree barmanObjectStore, not the Barman Cloud plugin`);
    const plugin = ((get(cluster, 'spec', 'plugins') ?? []) as { name?: string; isWALArchiver?: boolean; parameters?: Record<string, string> }[]).find(
      (p) => p.name === BARMAN_CLOUD_PLUGIN,
    );
    if (plugin === undefined) violations.push(`${where}: no ${BARMAN_CLOUD_PLUGIN} plugin: no WAL archive, no point-in-time recovery`);
    else {
      if (plugin.isWALArchiver !== true) violations.push(`${where}: the ${BARMAN_CLOUD_PLUGIN} plugin is not the WAL archiver`);
      const store = plugin.parameters?.barmanObjectName;
      if (store === undefined || !stores.has(`${namespaceOf(cluster)}/${store}`))
        violations.push(`${where}: barmanObjectName ${store ?? 'unset'} is no ObjectStore of the render`);
    }
    const instances = get(cluster, 'spec', 'instances');
    if (typeof instances === 'number' && instances > 1 && get(cluster, 'spec', 'affinity', 'podAntiAffinityType') !== 'required') {
      violations.push(`${where}: podAntiAffinityType is not required: two instances may run on one node and fail together`);
    }
    const backups = scheduled.filter((b) => get(b, 'spec', 'cluster', 'name') === cluster.metadata.name && namespaceOf(b) === namespaceOf(cluster));
    if (backups.length === 0) violations.push(`${where}: no ScheduledBackup`);
    for (const backup of backups) {
      if (get(backup, 'spec', 'method') !== 'plugin' || get(backup, 'spec', 'pluginConfiguration', 'name') !== BARMAN_CLOUD_PLUGIN) {
        const method = get(backup, 'spec', 'method');
        violations.push(
          `${id(backup)}: does not back up through the ${BARMAN_CLOUD_PLUGIN} plugin (method ${typeof method === 'string' ? method : 'barmanObjectStore (default)'})`,
        );
      }
    }
  }
  return violations;
};

/** Production holds no Secret object, encrypted at rest in git or not: SealedSecret / ExternalSecret only. */
export const noPlaintextSecrets: Policy = (objects) =>
  objects.filter((o) => o.kind === 'Secret' && o.apiVersion === 'v1').map((o) => `${id(o)}: a plaintext Secret (use a SealedSecret or an ExternalSecret)`);

/** An HPA's target exists and has no `replicas` in git (a sync would fight the autoscaler). */
export const hpaOwnsReplicas: Policy = (objects) =>
  objects
    .filter((o) => o.kind === 'HorizontalPodAutoscaler')
    .flatMap((hpa) => {
      const ref = get(hpa, 'spec', 'scaleTargetRef') as { kind: string; name: string } | undefined;
      const target = objects.find((o) => o.kind === ref?.kind && o.metadata.name === ref.name && namespaceOf(o) === namespaceOf(hpa));
      if (target === undefined) return [`${id(hpa)}: target ${ref?.kind}/${ref?.name} is not in the render`];
      return get(target, 'spec', 'replicas') === undefined ? [] : [`${id(target)}: sets replicas although ${id(hpa)} owns them`];
    });

/**
 * The API Deployments: an `http` port, a preStop pause and a grace period
 * covering it plus the 10 s drain, a writable /tmp on an emptyDir (the root
 * filesystem is read-only), spread over nodes and zones, no service links
 * (they would inject COINS_PORT=tcp://... over the services' own *_PORT
 * variables), a Service and a PodDisruptionBudget selecting their pods.
 */
export const workloadShape: Policy = (objects) => {
  const violations: string[] = [];
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  for (const workload of workloads(objects).filter((w) => w.object.kind === 'Deployment')) {
    const where = workload.id;
    const labels = workload.template.metadata?.labels ?? {};
    const ns = workload.namespace;
    const container = workload.spec.containers[0];
    if (container === undefined) continue;
    if (!(container.ports ?? []).some((p) => p.name === 'http')) violations.push(`${where}: no container port named http`);
    const preStop = container.lifecycle?.preStop;
    const sleepCommand = /\bsleep\s+(\d+)/.exec((preStop?.exec?.command ?? []).join(' '))?.[1];
    const pause = preStop?.sleep?.seconds ?? (sleepCommand === undefined ? undefined : Number(sleepCommand));
    if (pause === undefined) violations.push(`${where}: no preStop pause (endpoints are removed while the pod still serves)`);
    const grace = workload.spec.terminationGracePeriodSeconds ?? 30;
    if (grace < (pause ?? 0) + DRAIN_SECONDS + 5)
      violations.push(`${where}: terminationGracePeriodSeconds ${grace} does not cover the preStop pause and the ${DRAIN_SECONDS} s drain`);
    const tmp = (container.volumeMounts ?? []).find((m) => m.mountPath === '/tmp');
    if (tmp === undefined || workload.spec.volumes?.find((v) => v.name === tmp.name)?.emptyDir === undefined) violations.push(`${where}: no emptyDir at /tmp`);
    if ((workload.spec.topologySpreadConstraints ?? []).length === 0) violations.push(`${where}: no topologySpreadConstraints`);
    if (workload.spec.enableServiceLinks !== false) violations.push(`${where}: enableServiceLinks is not false`);
    const selectedBy = (kind: string, selector: (o: KObject) => LabelSelector | undefined) =>
      byKind(kind).some((o) => namespaceOf(o) === ns && selector(o) !== undefined && selectorMatches(selector(o), labels));
    if (!selectedBy('Service', (o) => ({ matchLabels: get(o, 'spec', 'selector') as Labels }))) violations.push(`${where}: no Service selects its pods`);
    if (!selectedBy('PodDisruptionBudget', (o) => get(o, 'spec', 'selector') as LabelSelector))
      violations.push(`${where}: no PodDisruptionBudget selects its pods`);
  }
  return violations;
};

// --- NetworkPolicies ------------------------------------------------------------

const podEndpoint = (p: PodModel): Endpoint => ({ kind: 'pod', name: p.owner, namespace: p.namespace, labels: p.labels, ports: p.ports });
const DNS: Endpoint = {
  kind: 'pod',
  name: 'kube-dns',
  namespace: 'kube-system',
  labels: { 'k8s-app': 'kube-dns' },
  ports: [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  ],
};

const emptySelector = (s: LabelSelector | undefined) =>
  s === undefined || (Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0);

/** A default-deny policy (ingress and egress) per namespace; every pod covered by an allow policy and able to resolve names. */
export const networkPolicyCoverage: Policy = (objects) => {
  const violations: string[] = [];
  const policies = networkPolicies(objects);
  const ourPods = pods(objects);
  for (const ns of new Set(ourPods.map((p) => p.namespace))) {
    const denyAll = policies.some(
      (p) =>
        p.namespace === ns &&
        emptySelector(p.spec.podSelector) &&
        policyTypes(p).includes('Ingress') &&
        policyTypes(p).includes('Egress') &&
        (p.spec.ingress ?? []).length === 0 &&
        (p.spec.egress ?? []).length === 0,
    );
    if (!denyAll) violations.push(`namespace ${ns}: no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)`);
  }
  for (const pod of ourPods) {
    const endpoint = podEndpoint(pod);
    const own = policies.filter(
      (p) =>
        p.namespace === pod.namespace &&
        !emptySelector(p.spec.podSelector) &&
        selectorMatches(p.spec.podSelector as LabelSelector, pod.labels) &&
        (p.spec.ingress ?? []).length + (p.spec.egress ?? []).length > 0,
    );
    if (own.length === 0) violations.push(`${pod.owner}: selected by no NetworkPolicy of its own (only namespace-wide ones)`);
    for (const protocol of ['UDP', 'TCP']) {
      if (!connectionAllowed(policies, endpoint, DNS, 53, protocol).allowed) violations.push(`${pod.owner}: cannot reach DNS (${protocol} 53)`);
    }
  }
  return violations;
};

interface Flow {
  from: string;
  to: string;
  /** A number, or a port name resolved on the destination pod. */
  port: number | string;
}

/** Who talks to whom, by app.kubernetes.io/name: the architecture the policies must allow, and nothing else. */
const APP_FLOWS: Flow[] = [
  { from: 'gateway', to: 'coins', port: 'http' },
  { from: 'gateway', to: 'prices', port: 'http' },
  ...['coins', 'prices', 'fetcher', 'migrate'].map((from) => ({ from, to: 'postgres', port: 5432 })),
  // The gateway reads the data version there (the fetcher publishes it).
  ...['coins', 'prices', 'fetcher', 'gateway'].map((from) => ({ from, to: 'redis', port: 6379 })),
];

const outsidePod = (name: string, namespace: string, labels: Labels): Endpoint => ({ kind: 'pod', name, namespace, labels, ports: [] });
const INGRESS_CONTROLLER = outsidePod('the ingress controller', 'ingress-nginx', { 'app.kubernetes.io/name': 'ingress-nginx' });
const PROMETHEUS = outsidePod('Prometheus', 'monitoring', { 'app.kubernetes.io/name': 'prometheus' });
const CNPG_OPERATOR = outsidePod('the CloudNativePG operator', 'cnpg-system', { 'app.kubernetes.io/name': 'cloudnative-pg' });
const INTERNET: Endpoint = { kind: 'external', name: 'the internet (203.0.113.10)', ip: '203.0.113.10' };
const PRIVATE: Endpoint = { kind: 'external', name: 'a private address (10.1.2.3)', ip: '10.1.2.3' };

/**
 * Connections from outside the namespace: [source, destination app, port, required (else merely permitted)].
 * Prometheus's are not listed: it may reach exactly what the render's ServiceMonitors and PodMonitors scrape (scrapeTargets).
 */
const INBOUND: [Endpoint, string, number | string, boolean][] = [
  [INGRESS_CONTROLLER, 'gateway', 'http', true],
  [INGRESS_CONTROLLER, 'cert-manager-http01-solver', 8089, true],
  [CNPG_OPERATOR, 'postgres', 8000, false],
  [CNPG_OPERATOR, 'postgres', 5432, false],
];
/** Connections leaving the cluster: [source app, destination, port, required]. PostgreSQL only in its CloudNativePG form (API server, S3). */
const OUTBOUND: [string, Endpoint, number, boolean][] = [
  ['fetcher', INTERNET, 443, true],
  ['postgres', INTERNET, 443, false],
  ['postgres', INTERNET, 6443, false],
  ['postgres', PRIVATE, 443, false],
  ['postgres', PRIVATE, 6443, false],
];

function resolvePort(port: number | string, pod: PodModel): number | undefined {
  return typeof port === 'number' ? port : pod.ports.find((p) => p.name === port)?.port;
}

interface ScrapeTarget {
  monitor: string;
  pod: PodModel;
  port: number;
  /** the container port's name */
  portName: string | undefined;
  path: string;
}

interface MonitorEndpoint {
  port?: string;
  targetPort?: number | string;
  path?: string;
}

/**
 * What Prometheus scrapes, read from the render's ServiceMonitors (through
 * the Services they select, in their own namespace) and PodMonitors: each
 * pod and container port. `problems` lists monitors that scrape nothing.
 */
export function scrapeTargets(objects: KObject[]): { targets: ScrapeTarget[]; problems: string[] } {
  const targets: ScrapeTarget[] = [];
  const problems: string[] = [];
  const allPods = pods(objects);
  const monitors = objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/') && (o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor'));
  for (const monitor of monitors) {
    const ns = namespaceOf(monitor);
    const selector = get(monitor, 'spec', 'selector') as LabelSelector | undefined;
    const where = id(monitor);
    if (monitor.kind === 'ServiceMonitor') {
      const services = objects.filter((o) => o.kind === 'Service' && namespaceOf(o) === ns && selectorMatches(selector, o.metadata.labels ?? {}));
      if (services.length === 0) problems.push(`${where}: selects no Service`);
      for (const endpoint of (get(monitor, 'spec', 'endpoints') ?? []) as MonitorEndpoint[]) {
        for (const service of services) {
          const servicePort = ((get(service, 'spec', 'ports') ?? []) as { name?: string; port: number; targetPort?: number | string }[]).find(
            (p) => p.name === endpoint.port,
          );
          if (servicePort === undefined) {
            problems.push(`${where}: Service ${service.metadata.name} has no port named ${endpoint.port}`);
            continue;
          }
          const target = servicePort.targetPort ?? servicePort.port;
          const selected = allPods.filter((p) => p.namespace === ns && selectorMatches({ matchLabels: get(service, 'spec', 'selector') as Labels }, p.labels));
          for (const pod of selected) {
            const port = pod.ports.find((cp) => (typeof target === 'string' ? cp.name === target : cp.port === target));
            if (port !== undefined) targets.push({ monitor: where, pod, port: port.port, portName: port.name, path: endpoint.path ?? '/metrics' });
          }
        }
      }
    } else {
      const selected = allPods.filter((p) => p.namespace === ns && selectorMatches(selector, p.labels));
      if (selected.length === 0) problems.push(`${where}: selects no pod`);
      for (const endpoint of (get(monitor, 'spec', 'podMetricsEndpoints') ?? []) as MonitorEndpoint[]) {
        for (const pod of selected) {
          const port = pod.ports.find((cp) => (endpoint.port !== undefined ? cp.name === endpoint.port : cp.port === endpoint.targetPort));
          if (port === undefined) problems.push(`${where}: ${pod.owner} has no port ${endpoint.port ?? endpoint.targetPort}`);
          else targets.push({ monitor: where, pod, port: port.port, portName: port.name, path: endpoint.path ?? '/metrics' });
        }
      }
    }
  }
  return { targets, problems };
}

/**
 * Metrics stay private: every monitor scrapes something, always a container
 * port named `metrics` at /metrics; and no client Service (one with a cluster
 * IP, which Ingresses and other pods use) and no Ingress exposes a `metrics`
 * port. Only headless Services may carry it, for the ServiceMonitors.
 */
export const privateMetrics: Policy = (objects) => {
  const { targets, problems } = scrapeTargets(objects);
  const violations = [...problems];
  for (const t of targets) {
    if (t.portName !== 'metrics') violations.push(`${t.monitor}: scrapes ${t.pod.owner} on port ${t.portName ?? t.port}, not its metrics port`);
    if (t.path !== '/metrics') violations.push(`${t.monitor}: scrapes ${t.path}, not /metrics`);
  }
  const allPods = pods(objects);
  for (const service of objects.filter((o) => o.kind === 'Service')) {
    if (get(service, 'spec', 'clusterIP') === 'None') continue;
    const selector = get(service, 'spec', 'selector') as Labels | undefined;
    if (selector === undefined) continue;
    const selected = allPods.filter((p) => p.namespace === namespaceOf(service) && selectorMatches({ matchLabels: selector }, p.labels));
    for (const port of (get(service, 'spec', 'ports') ?? []) as { port: number; targetPort?: number | string }[]) {
      const target = port.targetPort ?? port.port;
      const hits = selected.filter((p) =>
        p.ports.some((cp) => cp.name === 'metrics' && (typeof target === 'string' ? cp.name === target : cp.port === target)),
      );
      for (const pod of hits) violations.push(`${id(service)}: port ${port.port} exposes the metrics port of ${pod.owner} to clients`);
    }
  }
  return violations;
};

/** Paths a client may reach through an Ingress, and paths that must stay inside the cluster. */
const PUBLIC_PATHS = ['/', '/graphql', '/docs', '/docs/index.html'];
const PRIVATE_PATHS = ['/metrics', '/healthz', '/readyz', '/readyz?exclude=redis', '/unknown'];

/** Whether an Ingress path rule routes a request path (Exact: equal; Prefix: element-wise prefix, as the Ingress API defines). */
function ingressRoutes(rule: { path?: string; pathType?: string }, requestPath: string): boolean {
  const pathOnly = requestPath.split('?')[0] ?? requestPath;
  const rulePath = rule.path ?? '/';
  if (rule.pathType === 'Exact') return pathOnly === rulePath;
  const prefix = rulePath.replace(/\/+$/, '');
  return prefix === '' || pathOnly === prefix || pathOnly.startsWith(`${prefix}/`);
}

/**
 * An Ingress routes the public API only: `/`, `/graphql` and `/docs` reach
 * the gateway; health, readiness, metrics and any other path do not.
 */
export const ingressPublicPaths: Policy = (objects) => {
  const violations: string[] = [];
  for (const ingress of objects.filter((o) => o.kind === 'Ingress')) {
    const rules = ((get(ingress, 'spec', 'rules') ?? []) as { http?: { paths?: { path?: string; pathType?: string }[] } }[]).flatMap(
      (r) => r.http?.paths ?? [],
    );
    if (get(ingress, 'spec', 'defaultBackend') !== undefined) violations.push(`${id(ingress)}: a defaultBackend routes every path`);
    for (const requestPath of PRIVATE_PATHS) {
      const rule = rules.find((r) => ingressRoutes(r, requestPath));
      if (rule !== undefined) violations.push(`${id(ingress)}: ${requestPath} is public (rule ${rule.path} ${rule.pathType ?? ''})`);
    }
    for (const requestPath of PUBLIC_PATHS)
      if (!rules.some((r) => ingressRoutes(r, requestPath))) violations.push(`${id(ingress)}: ${requestPath} is not routed`);
  }
  return violations;
};

/**
 * The NetworkPolicies allow exactly the architecture: every flow in APP_FLOWS
 * (both its egress and its ingress side), the ingress controller to the
 * gateway and to cert-manager's HTTP-01 solver, Prometheus to exactly what the
 * ServiceMonitors and PodMonitors scrape, the fetcher to the internet on 443,
 * and deny every other connection between the pods, from other pods of the
 * namespace, from the ingress controller and monitoring to anything else, and
 * out of the cluster.
 */
export const networkFlows: Policy = (objects) => {
  const violations: string[] = [];
  const policies = networkPolicies(objects);
  const ourPods = pods(objects).filter((p) => appOf(p.labels) !== undefined);
  const scraped = scrapeTargets(objects).targets;
  const verdict = (from: Endpoint, to: Endpoint, port: number) => connectionAllowed(policies, from, to, port);
  const describe = (from: string, to: string, port: number) => `network: ${from} -> ${to}:${port}`;
  for (const ns of new Set(ourPods.map((p) => p.namespace))) {
    const inNs = ourPods.filter((p) => p.namespace === ns);
    const stranger = outsidePod('another pod of the namespace', ns, { 'app.kubernetes.io/name': 'debug-shell' });
    for (const source of inNs) {
      const sourceApp = appOf(source.labels) ?? '';
      for (const destination of inNs) {
        const destinationApp = appOf(destination.labels) ?? '';
        if (destinationApp === sourceApp) continue;
        for (const { port } of destination.ports.filter((p) => p.protocol === 'TCP')) {
          const flows = APP_FLOWS.filter((f) => f.from === sourceApp && f.to === destinationApp && resolvePort(f.port, destination) === port);
          const result = verdict(podEndpoint(source), podEndpoint(destination), port);
          const label = describe(`${sourceApp} (${source.owner})`, `${destinationApp} (${destination.owner})`, port);
          if (flows.length > 0 && !result.allowed) violations.push(`${label} is needed but blocked by the ${result.blockedBy} side`);
          if (flows.length === 0 && result.allowed) violations.push(`${label} is allowed but not needed`);
        }
      }
      // `source` as the destination of connections from outside the namespace:
      for (const [outside, app, port, required] of INBOUND) {
        const resolved = app === sourceApp ? resolvePort(port, source) : undefined;
        if (required && resolved !== undefined && !verdict(outside, podEndpoint(source), resolved).allowed) {
          violations.push(`${describe(outside.name, sourceApp, resolved)} is needed but blocked`);
        }
      }
      const scrapes = scraped.filter((t) => t.pod.owner === source.owner && t.pod.namespace === source.namespace).map((t) => t.port);
      for (const port of new Set(scrapes)) {
        if (!verdict(PROMETHEUS, podEndpoint(source), port).allowed)
          violations.push(`${describe(PROMETHEUS.name, `${sourceApp} (${source.owner})`, port)} is scraped but blocked`);
      }
      for (const outside of [INGRESS_CONTROLLER, PROMETHEUS, CNPG_OPERATOR, stranger]) {
        for (const { port } of source.ports) {
          const permitted =
            INBOUND.some(([o, app, p]) => o === outside && app === sourceApp && resolvePort(p, source) === port) ||
            (outside === PROMETHEUS && scrapes.includes(port));
          if (!permitted && verdict(outside, podEndpoint(source), port).allowed)
            violations.push(`${describe(outside.name, `${sourceApp} (${source.owner})`, port)} is allowed but not needed`);
        }
      }
      for (const destination of [INTERNET, PRIVATE]) {
        for (const port of [443, 80, 6443]) {
          const rule = OUTBOUND.find(([app, d, p]) => app === sourceApp && d === destination && p === port);
          const allowed = verdict(podEndpoint(source), destination, port).allowed;
          if (rule?.[3] === true && !allowed) violations.push(`${describe(`${sourceApp} (${source.owner})`, destination.name, port)} is needed but blocked`);
          if (rule === undefined && allowed) violations.push(`${describe(`${sourceApp} (${source.owner})`, destination.name, port)} is allowed but not needed`);
        }
      }
    }
  }
  return violations;
};

// --- Argo CD ----------------------------------------------------------------------

const WAVE = 'argocd.argoproj.io/sync-wave';
const wave = (o: KObject) => Number(annotation(o, WAVE) ?? '0');

/** `Kind/namespace/name` of every ConfigMap and Secret a pod reads (env, envFrom, volumes). */
const configurationCache = new WeakMap<KObject[], Set<string>>();
function podConfiguration(objects: KObject[]): Set<string> {
  const cached = configurationCache.get(objects);
  if (cached !== undefined) return cached;
  const refs = new Set<string>();
  configurationCache.set(objects, refs);
  for (const w of workloads(objects)) {
    const add = (kind: string, name: string | undefined) => name !== undefined && refs.add(`${kind}/${w.namespace}/${name}`);
    for (const c of [...(w.spec.initContainers ?? []), ...w.spec.containers]) {
      for (const from of c.envFrom ?? []) {
        add('ConfigMap', from.configMapRef?.name);
        add('Secret', from.secretRef?.name);
      }
      for (const env of c.env ?? []) {
        add('ConfigMap', env.valueFrom?.configMapKeyRef?.name);
        add('Secret', env.valueFrom?.secretKeyRef?.name);
      }
    }
    for (const v of w.spec.volumes ?? []) {
      add('ConfigMap', v.configMap?.name);
      add('Secret', v.secret?.secretName);
    }
  }
  return refs;
}

/**
 * Sync waves, in order: what pods need before they start (their ConfigMaps
 * and Secrets, the objects producing Secrets, NetworkPolicies), PostgreSQL,
 * Redis, migrations, subgraphs, gateway, fetcher.
 */
export const SYNC_ORDER: { name: string; matches: (o: KObject, objects: KObject[]) => boolean }[] = (() => {
  const workloadKinds = new Set(['Deployment', 'StatefulSet', 'CronJob', 'Job', 'Cluster']);
  const app =
    (...names: string[]) =>
    (o: KObject) =>
      workloadKinds.has(o.kind) && names.includes(appOf(o.metadata.labels) ?? '');
  const configuration = (o: KObject, objects: KObject[]) =>
    ['SealedSecret', 'ExternalSecret', 'NetworkPolicy'].includes(o.kind) ||
    (['ConfigMap', 'Secret'].includes(o.kind) && podConfiguration(objects).has(`${o.kind}/${namespaceOf(o)}/${o.metadata.name}`));
  return [
    { name: 'configuration', matches: configuration },
    { name: 'database', matches: app('postgres') },
    { name: 'redis', matches: app('redis') },
    { name: 'migrations', matches: app('migrate') },
    { name: 'subgraphs', matches: app('coins', 'prices') },
    { name: 'gateway', matches: app('gateway') },
    { name: 'fetcher', matches: app('fetcher') },
  ];
})();

/** Every workload has an explicit wave, the waves follow SYNC_ORDER, migrations are a Sync hook (not PreSync) replaced on each sync. */
export const syncWaves: Policy = (objects) => {
  const violations: string[] = [];
  for (const o of objects.filter((x) => ['Deployment', 'StatefulSet', 'CronJob', 'Job', 'Cluster'].includes(x.kind))) {
    const value = annotation(o, WAVE);
    if (value === undefined || !/^-?\d+$/.test(value)) violations.push(`${id(o)}: no numeric ${WAVE} annotation`);
  }
  const groups = SYNC_ORDER.map((g) => ({ ...g, members: objects.filter((o) => g.matches(o, objects)) })).filter((g) => g.members.length > 0);
  for (let i = 1; i < groups.length; i++) {
    const before = groups[i - 1];
    const after = groups[i];
    if (before === undefined || after === undefined) continue;
    const last = Math.max(...before.members.map(wave));
    for (const member of after.members) {
      if (wave(member) <= last) violations.push(`${id(member)}: wave ${wave(member)} is not after the ${before.name} (wave ${last})`);
    }
  }
  for (const job of objects.filter((o) => o.kind === 'Job' && appOf(o.metadata.labels) === 'migrate')) {
    const hook = annotation(job, 'argocd.argoproj.io/hook');
    if (hook !== 'Sync')
      violations.push(`${id(job)}: argocd.argoproj.io/hook is ${hook ?? 'unset'}, not Sync (a PreSync hook runs before the database of a first sync exists)`);
    if (!(annotation(job, 'argocd.argoproj.io/hook-delete-policy') ?? '').includes('BeforeHookCreation'))
      violations.push(`${id(job)}: hook-delete-policy lacks BeforeHookCreation (the next sync could not create the Job again)`);
  }
  return violations;
};

interface ArgoSource {
  repoURL?: string;
  path?: string;
  directory?: Record<string, unknown>;
}
interface ArgoAppSpec {
  project?: string;
  source?: ArgoSource;
  sources?: ArgoSource[];
  destination?: { server?: string; name?: string; namespace?: string };
  syncPolicy?: {
    automated?: { prune?: boolean; selfHeal?: boolean; enabled?: boolean };
    syncOptions?: string[];
    retry?: { limit?: number; backoff?: { duration?: string } };
  };
}
interface ArgoApp {
  where: string;
  annotations: Record<string, string>;
  spec: ArgoAppSpec;
}

/**
 * The subset of Go templates the ApplicationSet uses: `{{.key}}` and
 * `{{- if eq .key "value" }} ... {{- end }}` (not nested).
 */
function renderGoTemplate(template: string, element: Record<string, string>): string {
  const conditionals = template.replace(
    /\{\{-?\s*if eq \.(\w+) "([^"]*)"\s*-?\}\}([\s\S]*?)\{\{-?\s*end\s*-?\}\}/g,
    (_whole, key: string, value: string, body: string) => (element[key] === value ? body : ''),
  );
  return conditionals.replace(/\{\{\s*\.?([A-Za-z0-9_.]+)\s*\}\}/g, (whole, key: string) => element[key] ?? whole);
}

/** A template patch merged into the template: objects key by key, anything else replaced. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(target) || !isRecord(patch)) return patch;
  const merged: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) merged[key] = mergePatch(target[key], value);
  return merged;
}

/** Applications: each Application, and each ApplicationSet's template (and templatePatch) instantiated for every list element. */
function applicationSpecs(objects: KObject[]): ArgoApp[] {
  const result: ArgoApp[] = [];
  for (const o of objects) {
    if (o.kind === 'Application') result.push({ where: id(o), annotations: o.metadata.annotations ?? {}, spec: get(o, 'spec') ?? {} });
    if (o.kind !== 'ApplicationSet') continue;
    const template = JSON.stringify(get(o, 'spec', 'template') ?? {});
    const patch = get(o, 'spec', 'templatePatch');
    const generators = (get(o, 'spec', 'generators') ?? []) as { list?: { elements?: Record<string, string>[] } }[];
    const elements = generators.flatMap((g) => g.list?.elements ?? []);
    if (elements.length === 0) result.push({ where: `${id(o)}: no list generator elements`, annotations: {}, spec: {} });
    for (const element of elements) {
      let app = JSON.parse(renderGoTemplate(template, element)) as unknown;
      if (typeof patch === 'string') app = mergePatch(app, parseYaml(renderGoTemplate(patch, element)) ?? {});
      result.push({
        where: `${id(o)}[${JSON.stringify(element)}]`,
        annotations: (get(app, 'metadata', 'annotations') ?? {}) as Record<string, string>,
        spec: get(app, 'spec') ?? {},
      });
    }
  }
  return result;
}

/**
 * Overlays that may sync automatically although their images are not pinned
 * by digest in git: dev, which release.yml sets to each new build (tag and
 * digest) on every push to main. Any other overlay (prod) syncs automatically
 * only once its images are digests, never placeholders.
 */
const AUTO_SYNC_WITHOUT_DIGESTS = ['gitops/overlays/dev'];

/** Our images in an overlay's `images:` that carry no digest (sha-0000000 placeholders before the first release or promotion). */
function undigestedImages(overlay: string): string[] {
  const file = path.join(repoRoot, overlay, 'kustomization.yaml');
  if (!existsSync(file)) return [];
  const images = (get(parseYaml(readFileSync(file, 'utf8')), 'images') ?? []) as { name?: string; digest?: string }[];
  return images.filter((i) => (i.name ?? '').startsWith(OWN_IMAGES) && i.digest === undefined).map((i) => i.name ?? '');
}

const isDirectory = (dir: string) => existsSync(dir) && statSync(dir).isDirectory();

/**
 * Argo CD objects: every Application (ApplicationSet element) uses an existing
 * project, a repository and namespace that project allows, a path of this
 * repository (a kustomization, or a folder of manifests for a directory
 * source), ServerSideApply and retries. Applications of an overlay also create
 * their namespace, diff server-side (defaulted fields are no drift), and sync
 * automatically with prune and self-heal only when the overlay's images are
 * pinned (AUTO_SYNC_WITHOUT_DIGESTS excepted, which must sync automatically).
 */
export const argoApplications: Policy = (objects) => {
  const violations: string[] = [];
  const projects = new Map(objects.filter((o) => o.kind === 'AppProject').map((p) => [p.metadata.name, p]));
  for (const { where, annotations, spec } of applicationSpecs(objects)) {
    if (where.endsWith('no list generator elements')) {
      violations.push(where);
      continue;
    }
    const project = projects.get(spec.project ?? 'default');
    if (project === undefined) violations.push(`${where}: project ${spec.project} is not in gitops/argocd`);
    const sourceRepos = (get(project, 'spec', 'sourceRepos') ?? []) as string[];
    const destinations = (get(project, 'spec', 'destinations') ?? []) as { server?: string; namespace?: string }[];
    const sources = [...(spec.source === undefined ? [] : [spec.source]), ...(spec.sources ?? [])];
    for (const source of sources) {
      if (project !== undefined && !sourceRepos.includes(source.repoURL ?? ''))
        violations.push(`${where}: repository ${source.repoURL} is not allowed by project ${spec.project}`);
      const dir = path.join(repoRoot, source.path ?? '');
      const kustomization = existsSync(path.join(dir, 'kustomization.yaml'));
      const manifests = source.directory !== undefined && isDirectory(dir) && readdirSync(dir).some((f) => f.endsWith('.yaml'));
      if (source.path === undefined || !(kustomization || manifests))
        violations.push(`${where}: path ${source.path} is not a kustomization (or, for a directory source, a folder of manifests) in this repository`);
    }
    const ns = spec.destination?.namespace;
    if (project !== undefined && !destinations.some((d) => d.namespace === ns && d.server === spec.destination?.server)) {
      violations.push(`${where}: destination ${spec.destination?.server} ${ns} is not allowed by project ${spec.project}`);
    }
    const sync = spec.syncPolicy;
    const automated = sync?.automated !== undefined && sync.automated.enabled !== false;
    const overlay = sources.map((s) => s.path ?? '').find((p) => p.startsWith('gitops/overlays/'));
    if (overlay === undefined) {
      if (!automated || sync?.automated?.selfHeal !== true)
        violations.push(`${where}: not synced automatically with self-heal (the Argo CD objects would drift from git)`);
    } else {
      if (automated && (sync?.automated?.prune !== true || sync.automated.selfHeal !== true))
        violations.push(`${where}: automated sync without prune and selfHeal`);
      const unpinned = undigestedImages(overlay);
      if (AUTO_SYNC_WITHOUT_DIGESTS.includes(overlay)) {
        if (!automated) violations.push(`${where}: ${overlay} is not synced automatically (release.yml deploys dev by committing to it)`);
      } else if (automated && unpinned.length > 0) {
        violations.push(
          `${where}: syncs ${overlay} automatically while ${unpinned.length} of its images are not pinned by digest (placeholders before the first promotion): sync it by hand until then`,
        );
      }
      if (!(sync?.syncOptions ?? []).includes('CreateNamespace=true')) violations.push(`${where}: syncOptions lack CreateNamespace=true`);
      if (!(annotations['argocd.argoproj.io/compare-options'] ?? '').includes('ServerSideDiff=true')) {
        violations.push(
          `${where}: no server-side diff (argocd.argoproj.io/compare-options: ServerSideDiff=true): fields operators default show as drift forever`,
        );
      }
    }
    if (!(sync?.syncOptions ?? []).includes('ServerSideApply=true')) violations.push(`${where}: syncOptions lack ServerSideApply=true`);
    if (sync?.retry?.limit === undefined || sync.retry.backoff?.duration === undefined) violations.push(`${where}: no retry with backoff`);
  }
  return violations;
};

/** The AppProject `projectName` permits every kind a render holds (namespaced ones in the namespace whitelist), and the render's namespace. */
export const argoProjectPermits =
  (argo: KObject[], projectName = 'crypto-aggregator'): Policy =>
  (objects) => {
    const project = argo.find((o) => o.kind === 'AppProject' && o.metadata.name === projectName);
    if (project === undefined) return [`gitops/argocd: no AppProject ${projectName}`];
    const list = (field: string) => (get(project, 'spec', field) ?? []) as { group: string; kind: string }[];
    const permitted = (entries: { group: string; kind: string }[], o: KObject) => {
      const g = o.apiVersion.includes('/') ? o.apiVersion.slice(0, o.apiVersion.lastIndexOf('/')) : '';
      return entries.some((e) => (e.group === '*' || e.group === g) && (e.kind === '*' || e.kind === o.kind));
    };
    const destinations = (get(project, 'spec', 'destinations') ?? []) as { namespace?: string }[];
    return objects.flatMap((o) => {
      const namespaced = o.metadata.namespace !== undefined;
      const violations: string[] = [];
      if (!permitted(list(namespaced ? 'namespaceResourceWhitelist' : 'clusterResourceWhitelist'), o))
        violations.push(`${o.apiVersion} ${id(o)}: kind not permitted by AppProject ${project.metadata.name}`);
      if (namespaced && !destinations.some((d) => d.namespace === o.metadata.namespace))
        violations.push(`${id(o)}: namespace ${o.metadata.namespace} not a destination of AppProject ${project.metadata.name}`);
      return violations;
    });
  };

// --- configuration drift ------------------------------------------------------------

/** What test/gitops knows of one service's configuration module (see services.ts). */
export interface ServiceSchema {
  /** Env variable names the service's config schema defines. */
  variables: readonly string[];
  /** Parses an environment the way the process does at start-up. */
  parse?: (env: Record<string, string>) => { ok: true; config: Record<string, unknown> } | { ok: false; errors: string[] };
}

/** Values for variables whose Secret is not in the render (created by an operator in the cluster). */
const STAND_INS: Record<string, string> = {
  DATABASE_URL: 'postgresql://stand-in:stand-in@stand-in:5432/stand-in',
  REDIS_URL: 'redis://stand-in:6379',
};
const STAND_IN = 'stand-in-secret-value-0123456789';

interface EnvValue {
  value: string;
  /** The value is made up: its Secret is created in the cluster (by CloudNativePG, External Secrets). */
  standIn?: boolean;
  /** literal, configmap name/key or secret name/key: two containers agree when their sources agree. */
  source: string;
}

/** The environment a container starts with, resolved against the ConfigMaps and Secrets of the render. */
function containerEnvironment(objects: KObject[], namespace: string, container: IContainer): Map<string, EnvValue> {
  const env = new Map<string, EnvValue>();
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name && namespaceOf(o) === namespace);
  const secretValue = (name: string, key: string, variable: string): { value: string; standIn?: boolean } => {
    const secret = find('Secret', name);
    const data = get(secret, 'data', key);
    const stringData = get(secret, 'stringData', key);
    if (typeof stringData === 'string') return { value: stringData };
    if (typeof data === 'string') return { value: Buffer.from(data, 'base64').toString('utf8') };
    return { value: STAND_INS[variable] ?? STAND_IN, standIn: true };
  };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef !== undefined) {
      const name = from.configMapRef.name ?? '';
      for (const [key, value] of Object.entries((get(find('ConfigMap', name), 'data') ?? {}) as Record<string, string>)) {
        env.set(prefix + key, { value, source: `value ${value}` });
      }
    }
    if (from.secretRef !== undefined) {
      const name = from.secretRef.name ?? '';
      for (const key of Object.keys(get(find('Secret', name), 'data') ?? {})) {
        env.set(prefix + key, { ...secretValue(name, key, prefix + key), source: `secret ${name}/${key}` });
      }
    }
  }
  for (const variable of container.env ?? []) {
    const s = variable.valueFrom?.secretKeyRef;
    const m = variable.valueFrom?.configMapKeyRef;
    if (variable.value !== undefined) env.set(variable.name, { value: variable.value, source: `value ${variable.value}` });
    else if (s !== undefined) env.set(variable.name, { ...secretValue(s.name ?? '', s.key, variable.name), source: `secret ${s.name}/${s.key}` });
    else if (m !== undefined) {
      const value = get(find('ConfigMap', m.name ?? ''), 'data', m.key);
      env.set(variable.name, { value: typeof value === 'string' ? value : '', source: `value ${String(value)}` });
    } else env.set(variable.name, { value: '', source: 'field' });
  }
  return env;
}

/** Variables several services read that must agree between them (the fetcher and the prices subgraph must use the same currencies, ...). */
const SHARED_VARIABLES = ['FETCH_CURRENCIES', 'REDIS_KEY_PREFIX', 'REDIS_URL', 'DATABASE_URL', 'SUBGRAPH_SECRET'];

/** In-cluster Services by name: those in the render and the ones CloudNativePG creates for a Cluster. */
function servicePorts(objects: KObject[], namespace: string): Map<string, number[]> {
  const services = new Map<string, number[]>();
  for (const o of objects) {
    if (namespaceOf(o) !== namespace) continue;
    if (o.kind === 'Service')
      services.set(
        o.metadata.name,
        ((get(o, 'spec', 'ports') ?? []) as { port: number }[]).map((p) => p.port),
      );
    if (o.kind === 'Cluster' && o.apiVersion.startsWith('postgresql.cnpg.io/')) {
      for (const suffix of ['rw', 'ro', 'r']) services.set(`${o.metadata.name}-${suffix}`, [5432]);
    }
  }
  return services;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'redis:': 6379, 'postgres:': 5432, 'postgresql:': 5432 };

/**
 * The manifests agree with the services' own configuration schemas: every
 * variable a container sets is one its service reads, the environment parses
 * (values in range, URLs well-formed, secrets required in production present),
 * the container's `http` port is the port the service will listen on and its
 * `metrics` port the METRICS_PORT it serves /metrics on (always set), probes
 * hit /healthz (liveness, startup) and /readyz (readiness) on that port, URLs
 * to in-cluster hosts name a Service with that port (GraphQL at /graphql),
 * shared variables agree between services, and a job's deadline outlasts the
 * fetcher's own FETCH_DEADLINE_SECONDS.
 */
export const configDrift =
  (services: Record<string, ServiceSchema>): Policy =>
  (objects) => {
    const violations: string[] = [];
    const shared = new Map<string, { where: string; source: string }[]>();
    const hasMigrationHook = objects.some(
      (o) => o.kind === 'Job' && annotation(o, 'argocd.argoproj.io/hook') !== undefined && appOf(o.metadata.labels) === 'migrate',
    );
    for (const { workload, container, where } of containers(objects)) {
      const service = container.image === undefined ? undefined : services[imageName(container.image)];
      if (service === undefined || container.image?.startsWith(OWN_IMAGES) !== true) continue;
      const env = containerEnvironment(objects, workload.namespace, container);
      for (const name of env.keys())
        if (!service.variables.includes(name)) violations.push(`${where}: sets ${name}, which ${imageName(container.image)} does not read`);
      for (const name of SHARED_VARIABLES) {
        if (!service.variables.includes(name)) continue;
        const entry = { where: `${workload.namespace}/${where}`, source: env.get(name)?.source ?? 'unset (default)' };
        shared.set(`${workload.namespace}/${name}`, [...(shared.get(`${workload.namespace}/${name}`) ?? []), entry]);
      }
      const known = servicePorts(objects, workload.namespace);
      for (const [name, { value, standIn }] of env) {
        if (!name.endsWith('_URL') || value === '' || standIn === true) continue;
        let url: URL;
        try {
          url = new URL(value);
        } catch {
          continue;
        }
        if (url.hostname.includes('.')) continue;
        const port = url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port);
        const ports = known.get(url.hostname);
        if (ports === undefined) violations.push(`${where}: ${name} points at ${url.hostname}, which is no Service of the namespace`);
        else if (port === undefined || !ports.includes(port))
          violations.push(`${where}: ${name} uses port ${port} of Service ${url.hostname}, which exposes ${ports.join(', ')}`);
        if (url.protocol.startsWith('http') && url.pathname !== '/graphql') violations.push(`${where}: ${name} path is ${url.pathname}, not /graphql`);
      }
      if (service.parse === undefined) continue;
      const parsed = service.parse(Object.fromEntries([...env].map(([k, v]) => [k, v.value])));
      if (!parsed.ok) {
        violations.push(...parsed.errors.map((e) => `${where}: ${e}`));
        continue;
      }
      const { config } = parsed;
      const http = (container.ports ?? []).find((p) => p.name === 'http');
      if (typeof config.port === 'number') {
        if (http === undefined) violations.push(`${where}: no container port named http (the service listens on ${config.port})`);
        else if (http.containerPort !== config.port)
          violations.push(`${where}: container port http is ${http.containerPort}, the service listens on ${config.port}`);
        // In Kubernetes /metrics must not share the public port (the Ingress and the client Services expose it).
        const metrics = (container.ports ?? []).find((p) => p.name === 'metrics');
        if (typeof config.metricsPort !== 'number')
          violations.push(`${where}: METRICS_PORT is not set: /metrics would be served on the public port ${config.port}`);
        else if (metrics === undefined) violations.push(`${where}: no container port named metrics (METRICS_PORT is ${config.metricsPort})`);
        else if (metrics.containerPort !== config.metricsPort)
          violations.push(`${where}: container port metrics is ${metrics.containerPort}, METRICS_PORT is ${config.metricsPort}`);
      }
      if (workload.longRunning) {
        const expected: [keyof IContainer & `${string}Probe`, string][] = [
          ['readinessProbe', '/readyz'],
          ['livenessProbe', '/healthz'],
          ['startupProbe', '/healthz'],
        ];
        for (const [probe, pathName] of expected) {
          const httpGet = container[probe]?.httpGet;
          if (httpGet === undefined) violations.push(`${where}: ${probe} is not an HTTP GET of ${pathName}`);
          else {
            const url = new URL(httpGet.path ?? '/', 'http://pod');
            if (url.pathname !== pathName) violations.push(`${where}: ${probe} path is ${httpGet.path}, not ${pathName}`);
            if (httpGet.port !== 'http' && httpGet.port !== config.port) violations.push(`${where}: ${probe} port is ${httpGet.port}, not the service's port`);
            // A service that caches in Redis answers from PostgreSQL without it: a cache outage must not make it unready.
            const excluded = (url.searchParams.get('exclude') ?? '').split(',');
            if (probe === 'readinessProbe' && env.get('REDIS_URL')?.value && !excluded.includes('redis')) {
              violations.push(`${where}: readinessProbe does not exclude redis (/readyz?exclude=redis): a Redis outage would take every pod out of service`);
            }
          }
        }
      }
      if (typeof config.deadlineMs === 'number' && workload.object.kind === 'CronJob') {
        const deadline = get(workload.object, 'spec', 'jobTemplate', 'spec', 'activeDeadlineSeconds');
        if (typeof deadline !== 'number' || deadline * 1000 <= config.deadlineMs)
          violations.push(
            `${where}: activeDeadlineSeconds ${typeof deadline === 'number' ? deadline : 'unset'} does not outlast FETCH_DEADLINE_SECONDS (${config.deadlineMs / 1000})`,
          );
      }
      if (config.migrateOnStart === true && hasMigrationHook)
        violations.push(`${where}: MIGRATE_ON_START is not false, although the migrate hook Job runs the migrations`);
    }
    for (const [key, entries] of shared) {
      const sources = new Set(entries.map((e) => e.source));
      if (sources.size > 1) violations.push(`${key.split('/')[1]} differs between services: ${entries.map((e) => `${e.where} = ${e.source}`).join('; ')}`);
    }
    return violations;
  };

/** The policies every overlay's render must satisfy (prod adds noPlaintextSecrets). */
export const RENDER_POLICIES: Record<string, Policy> = {
  probes,
  resources,
  securityContext,
  images,
  cronJobs,
  redisPersistence,
  redisProbes,
  serviceSelectors,
  references,
  hpaOwnsReplicas,
  workloadShape,
  networkPolicyCoverage,
  networkFlows,
  privateMetrics,
  ingressPublicPaths,
  externalSecretDefaults,
  statefulSetService,
  cnpgBackups,
  syncWaves,
};
