/**
 * Loading rendered manifests and the small amount of Kubernetes knowledge the
 * schema checks and policies share: which objects run pods, what their pod
 * templates are, which labels and ports those pods get.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import { parseAllDocuments } from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export type Labels = Record<string, string>;

/** Every document of a multi-document YAML text, as plain objects; throws on a YAML error or a document that is not an object. */
export function parseObjects(text: string, source: string): KObject[] {
  const objects: KObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isRecord(value) || typeof value.kind !== 'string' || typeof value.apiVersion !== 'string' || !isRecord(value.metadata)) {
      throw new Error(`${source}: a document without apiVersion, kind and metadata`);
    }
    objects.push(value as KObject);
  }
  return objects;
}

export function loadObjects(file: string): KObject[] {
  return parseObjects(readFileSync(file, 'utf8'), path.relative(repoRoot, file));
}

/** `kubectl kustomize` of an overlay (kubectl's built-in kustomize, no cluster needed). */
export function renderOverlay(env: string): KObject[] {
  const dir = path.join(repoRoot, 'gitops/overlays', env);
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseObjects(text, `kubectl kustomize gitops/overlays/${env}`);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const id = (o: KObject) => `${o.kind}/${o.metadata.name}`;
export const namespaceOf = (o: KObject) => o.metadata.namespace ?? 'default';
export const group = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '');

/** Reads a nested field without trusting the object's shape. */
export function get(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof key === 'number') current = Array.isArray(current) ? (current[key] as unknown) : undefined;
    else current = isRecord(current) ? current[key] : undefined;
  }
  return current;
}

export const annotation = (o: KObject, key: string) => o.metadata.annotations?.[key];

/** The kinds whose pods keep running (and so need readiness, liveness and startup probes). */
const LONG_RUNNING = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

export interface Workload {
  object: KObject;
  id: string;
  namespace: string;
  template: IPodTemplateSpec;
  spec: IPodSpec;
  longRunning: boolean;
}

/** The objects that carry a pod template, with that template. */
export function workloads(objects: KObject[]): Workload[] {
  const result: Workload[] = [];
  for (const object of objects) {
    let template: unknown;
    if (LONG_RUNNING.has(object.kind) || object.kind === 'Job') template = get(object, 'spec', 'template');
    else if (object.kind === 'CronJob') template = get(object, 'spec', 'jobTemplate', 'spec', 'template');
    else if (object.kind === 'Pod') template = { metadata: object.metadata, spec: object.spec };
    else continue;
    if (!isRecord(template) || !isRecord(template.spec)) continue;
    result.push({
      object,
      id: id(object),
      namespace: namespaceOf(object),
      template,
      spec: template.spec as unknown as IPodSpec,
      longRunning: LONG_RUNNING.has(object.kind),
    });
  }
  return result;
}

export interface NamedContainer {
  workload: Workload;
  container: IContainer;
  init: boolean;
  where: string;
}

export function containers(objects: KObject[]): NamedContainer[] {
  return workloads(objects).flatMap((workload) => [
    ...(workload.spec.initContainers ?? []).map((container) => ({ workload, container, init: true, where: `${workload.id} initContainer ${container.name}` })),
    ...workload.spec.containers.map((container) => ({ workload, container, init: false, where: `${workload.id} container ${container.name}` })),
  ]);
}

export interface PortModel {
  name?: string;
  port: number;
  protocol: string;
}

/** A pod as NetworkPolicies and Service selectors see it: namespace, labels, container ports. */
export interface PodModel {
  owner: string;
  namespace: string;
  labels: Labels;
  ports: PortModel[];
}

/** CloudNativePG's instance pods (not in the render: the operator creates them from a Cluster). */
function cnpgPods(cluster: KObject): PodModel {
  const inherited = get(cluster, 'spec', 'inheritedMetadata', 'labels');
  return {
    owner: `${id(cluster)} (CloudNativePG instances)`,
    namespace: namespaceOf(cluster),
    labels: {
      ...(isRecord(inherited) ? (inherited as Labels) : {}),
      'cnpg.io/cluster': cluster.metadata.name,
      'cnpg.io/podRole': 'instance',
    },
    ports: [
      { name: 'postgresql', port: 5432, protocol: 'TCP' },
      { name: 'status', port: 8000, protocol: 'TCP' },
      { name: 'metrics', port: 9187, protocol: 'TCP' },
    ],
  };
}

/** The label cert-manager puts on the pod that answers an ACME HTTP-01 challenge. */
export const HTTP01_SOLVER_LABEL = 'acme.cert-manager.io/http01-solver';

/**
 * cert-manager's HTTP-01 solver (not in the render: cert-manager starts it in
 * the Ingress's namespace while a certificate is issued or renewed), listening
 * on 8089 behind a temporary Ingress rule.
 */
function http01Solver(ingress: KObject): PodModel {
  return {
    owner: `${id(ingress)} (cert-manager HTTP-01 solver)`,
    namespace: namespaceOf(ingress),
    labels: { [HTTP01_SOLVER_LABEL]: 'true' },
    ports: [{ name: 'http', port: 8089, protocol: 'TCP' }],
  };
}

const issuedByCertManager = (o: KObject) =>
  o.kind === 'Ingress' && (o.metadata.annotations?.['cert-manager.io/cluster-issuer'] ?? o.metadata.annotations?.['cert-manager.io/issuer']) !== undefined;

/** Every pod the render makes run: pod templates, and the pods operators create from custom resources. */
export function pods(objects: KObject[]): PodModel[] {
  const fromTemplates = workloads(objects).map((w) => ({
    owner: w.id,
    namespace: w.namespace,
    labels: w.template.metadata?.labels ?? {},
    ports: [...(w.spec.initContainers ?? []), ...w.spec.containers].flatMap((c) =>
      (c.ports ?? []).map((p) => ({ ...(p.name === undefined ? {} : { name: p.name }), port: p.containerPort, protocol: p.protocol ?? 'TCP' })),
    ),
  }));
  const fromOperators = objects.filter((o) => o.apiVersion.startsWith('postgresql.cnpg.io/') && o.kind === 'Cluster').map(cnpgPods);
  const solvers = objects.filter(issuedByCertManager).map(http01Solver);
  return [...fromTemplates, ...fromOperators, ...solvers];
}

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Kubernetes label selector semantics; an empty selector matches everything. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (selector === undefined) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const value = labels[key];
    if (operator === 'In' && !(has && value !== undefined && values.includes(value))) return false;
    if (operator === 'NotIn' && has && value !== undefined && values.includes(value)) return false;
    if (operator === 'Exists' && !has) return false;
    if (operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** The first path segment after the registry and owner: `ghcr.io/cryptoagg/crypto-aggregator/coins:sha-1` -> coins. */
export function imageName(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  const repository = colon === -1 ? withoutDigest : withoutDigest.slice(0, colon);
  return repository.slice(lastSlash + 1);
}

/** The tag of an image reference, or undefined (`redis`, `host:5000/redis`); the digest when pinned by digest. */
export function imageTag(image: string): { tag?: string; digest?: string } {
  const [reference = '', digest] = image.split('@');
  const lastSlash = reference.lastIndexOf('/');
  const colon = reference.indexOf(':', lastSlash + 1);
  return {
    ...(colon === -1 ? {} : { tag: reference.slice(colon + 1) }),
    ...(digest === undefined ? {} : { digest }),
  };
}
