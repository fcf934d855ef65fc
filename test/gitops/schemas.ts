/**
 * Schema validation of rendered objects, including the fields a schema does
 * not define (a misspelled `readinesProbe` is not an error for the
 * kubernetes-models validators, and the API server would silently drop it).
 *
 * Built-in kinds, Argo CD, prometheus-operator, sealed-secrets and
 * external-secrets: the kubernetes-models classes. Their packages ship the
 * OpenAPI schemas only as compiled ajv validators (no JSON definitions to
 * walk), so unknown fields are found by watching the validator: the object is
 * wrapped in Proxies that record which property names the validator reads.
 * A compiled validator reads every property its schema declares (`data.x !==
 * undefined`) and enumerates the keys of a map (`for (k in data)`); a key it
 * never read is a key the schema does not define. An object the validator
 * does not look into at all is free-form (`x-kubernetes-preserve-unknown-fields`,
 * Argo CD list-generator elements, Helm values) and is left alone.
 *
 * CloudNativePG (no model package): ajv on the CRD's openAPIV3Schema copied
 * into gitops/crds-schemas/, closed with `additionalProperties: false` wherever
 * the schema lists properties and does not preserve unknown fields (what the
 * API server's structural pruning would drop). The Barman Cloud plugin's
 * ObjectStore: see objectStoreSchema.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { type KObject, get, group, id, isRecord, repoRoot } from './k8s.js';

interface ModelClass {
  apiVersion: string;
  kind: string;
  prototype: { validate(): void };
}

/** Third-party API groups and the package that models them. */
const MODEL_PACKAGES: Record<string, string> = {
  'argoproj.io': '@kubernetes-models/argo-cd',
  'bitnami.com': '@kubernetes-models/sealed-secrets',
  'external-secrets.io': '@kubernetes-models/external-secrets',
  'generators.external-secrets.io': '@kubernetes-models/external-secrets',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

const CRD_DIR = path.join(repoRoot, 'gitops/crds-schemas');

function modelModule(apiVersion: string, kind: string): string | undefined {
  if (!/^[A-Z][A-Za-z0-9]*$/.test(kind) || !/^[a-z0-9.-]*\/?v[0-9a-z]+$/.test(apiVersion)) return undefined;
  const g = group(apiVersion);
  if (g === '') return `kubernetes-models/${apiVersion}/${kind}`;
  if (!g.includes('.') || g.endsWith('.k8s.io')) return `kubernetes-models/${apiVersion}/${kind}`;
  const pkg = MODEL_PACKAGES[g];
  return pkg === undefined ? undefined : `${pkg}/${apiVersion}/${kind}`;
}

const models = new Map<string, Promise<ModelClass | undefined>>();

/** The kubernetes-models class of apiVersion + kind, or undefined for a kind no installed package models. */
function modelClass(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const key = `${apiVersion}/${kind}`;
  let found = models.get(key);
  if (found === undefined) {
    const specifier = modelModule(apiVersion, kind);
    found =
      specifier === undefined
        ? Promise.resolve(undefined)
        : (import(specifier) as Promise<Record<string, unknown>>).then(
            (module) => {
              const candidate = module[kind] as Partial<ModelClass> | undefined;
              // A module of the same name may hold a type that is not a top-level kind (v1/ServiceSpec).
              return candidate?.apiVersion === apiVersion && candidate.kind === kind ? (candidate as ModelClass) : undefined;
            },
            () => undefined,
          );
    models.set(key, found);
  }
  return found;
}

interface Watched {
  path: string;
  keys: string[];
  read: Set<string>;
  enumerated: boolean;
}

/** A deep copy of value whose objects record which property names are read. */
function watch(value: unknown, at: string, watched: Watched[]): unknown {
  if (Array.isArray(value)) return value.map((item, i) => watch(item, `${at}[${i}]`, watched));
  if (!isRecord(value)) return value;
  const node: Watched = { path: at, keys: Object.keys(value), read: new Set(), enumerated: false };
  watched.push(node);
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) copy[key] = watch(child, at === '' ? key : `${at}.${key}`, watched);
  return new Proxy(copy, {
    get(target, property, receiver) {
      if (typeof property === 'string') node.read.add(property);
      return Reflect.get(target, property, receiver) as unknown;
    },
    has(target, property) {
      if (typeof property === 'string') node.read.add(property);
      return Reflect.has(target, property);
    },
    ownKeys(target) {
      node.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

/**
 * The models' generator strips every `description` key from the schemas it
 * compiles (documentation), properties named `description` included: the
 * validators of AppProject.spec, PriorityClass and JSONSchemaProps never read
 * one. Such a field cannot be told from an unknown one, so it is not reported.
 */
const UNCHECKABLE = new Set(['description']);

function unknownFields(watched: Watched[]): string[] {
  const result: string[] = [];
  for (const node of watched) {
    // Enumerated = a map (labels, resources.limits, ConfigMap data); nothing read = free-form.
    if (node.enumerated || node.read.size === 0) continue;
    for (const key of node.keys) {
      if (!node.read.has(key) && !UNCHECKABLE.has(key)) result.push(node.path === '' ? key : `${node.path}.${key}`);
    }
  }
  return result;
}

/**
 * What the API server decodes: base64 `data` of a Secret may be wrapped over
 * lines (kustomize wraps long values; Go's base64 decoder skips newlines),
 * which the models' `byte` format would reject.
 */
function asDecoded(object: KObject): KObject {
  if (object.kind !== 'Secret' || object.apiVersion !== 'v1' || !isRecord(object.data)) return object;
  const data = Object.fromEntries(Object.entries(object.data).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v]));
  return { ...object, data };
}

/** Runs a kubernetes-models validator on value; returns its error message and the fields it never looked at. */
function runModel(model: { prototype: { validate(): void } }, value: unknown): { error?: string; unknown: string[] } {
  const watched: Watched[] = [];
  const proxy = watch(value, '', watched);
  let error: string | undefined;
  try {
    // validate() checks `this`: call it on the proxy rather than on a model instance (which would copy the data).
    model.prototype.validate.call(proxy);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  return { ...(error === undefined ? {} : { error }), unknown: unknownFields(watched) };
}

// --- CRDs (CloudNativePG) ---------------------------------------------------------

type JsonSchema = Record<string, unknown>;

/** Adds additionalProperties: false to every object schema that lists properties and keeps no unknown fields. */
function closeSchema(schema: JsonSchema): JsonSchema {
  const closed: JsonSchema = { ...schema };
  if (isRecord(schema.properties)) {
    closed.properties = Object.fromEntries(Object.entries(schema.properties).map(([key, sub]) => [key, isRecord(sub) ? closeSchema(sub) : sub]));
    if (schema.additionalProperties === undefined && schema['x-kubernetes-preserve-unknown-fields'] !== true) {
      closed.additionalProperties = false;
    }
  }
  if (isRecord(schema.items)) closed.items = closeSchema(schema.items);
  if (isRecord(schema.additionalProperties)) closed.additionalProperties = closeSchema(schema.additionalProperties);
  for (const junctor of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = schema[junctor];
    if (Array.isArray(list)) closed[junctor] = list.map((sub: unknown) => (isRecord(sub) ? closeSchema(sub) : sub));
  }
  return closed;
}

let crdValidators: Map<string, ValidateFunction> | undefined;

/**
 * The Barman Cloud plugin's ObjectStore (barmancloud.cnpg.io/v1), built from
 * the CloudNativePG Cluster CRD: its `spec.configuration` is the in-tree
 * BarmanObjectStoreConfiguration, whose schema the Cluster CRD carries
 * (`spec.backup.barmanObjectStore`), and the few fields around it are the
 * plugin's documented API (`retentionPolicy` like 30d, the sidecar's
 * settings). `serverName` belongs in the Cluster's plugin parameters, not
 * here: the plugin's CRD rejects it.
 */
function objectStoreSchema(cluster: JsonSchema): JsonSchema | undefined {
  const clusterSpec = get(cluster, 'properties', 'spec', 'properties');
  const configuration = get(clusterSpec, 'backup', 'properties', 'barmanObjectStore');
  if (!isRecord(configuration)) return undefined;
  return {
    type: 'object',
    required: ['metadata', 'spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: {
        type: 'object',
        required: ['configuration'],
        properties: {
          configuration: { ...configuration, not: { required: ['serverName'] } },
          retentionPolicy: { type: 'string', pattern: '^[1-9][0-9]*[dwm]$' },
          instanceSidecarConfiguration: {
            type: 'object',
            properties: {
              additionalContainerArgs: { type: 'array', items: { type: 'string' } },
              env: get(clusterSpec, 'env') ?? { type: 'array' },
              logLevel: { type: 'string', enum: ['error', 'warning', 'info', 'debug', 'trace'] },
              resources: get(clusterSpec, 'resources') ?? { type: 'object' },
              retentionPolicyIntervalSeconds: { type: 'integer' },
            },
          },
        },
      },
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
}

/** apiVersion/kind -> validator, for every CRD version in gitops/crds-schemas/. */
function crdValidator(apiVersion: string, kind: string): ValidateFunction | undefined {
  if (crdValidators === undefined) {
    crdValidators = new Map();
    // OpenAPI keywords (x-kubernetes-*, nullable, int32 formats) are not JSON Schema: tolerate, do not enforce formats.
    // verbose: a `not` error then carries the schema it matched, to name the forbidden field.
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, verbose: true });
    for (const file of readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml'))) {
      const crd = parse(readFileSync(path.join(CRD_DIR, file), 'utf8')) as {
        spec: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema?: JsonSchema } }[] };
      };
      for (const version of crd.spec.versions) {
        const schema = version.schema?.openAPIV3Schema;
        if (schema === undefined) continue;
        crdValidators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(closeSchema(schema)));
        const objectStore = crd.spec.names.kind === 'Cluster' && version.name === 'v1' ? objectStoreSchema(schema) : undefined;
        if (objectStore !== undefined) crdValidators.set('barmancloud.cnpg.io/v1/ObjectStore', ajv.compile(closeSchema(objectStore)));
      }
    }
  }
  return crdValidators.get(`${apiVersion}/${kind}`);
}

function crdMessage(error: ErrorObject): string {
  const at = error.instancePath.replaceAll('/', '.').replace(/^\./, '');
  if (error.keyword === 'additionalProperties') {
    const field = String((error.params as { additionalProperty: string }).additionalProperty);
    return `unknown field ${at === '' ? field : `${at}.${field}`}`;
  }
  const forbidden = error.keyword === 'not' && isRecord(error.schema) && Array.isArray(error.schema.required) ? (error.schema.required as string[]) : [];
  if (forbidden.length > 0) return `${at === '' ? '(root)' : at}: ${forbidden.join(', ')} must not be set here`;
  return `${at === '' ? '(root)' : at} ${error.message ?? error.keyword}`;
}

/** Schema violations of every object: validation errors, unknown fields, kinds no schema describes. */
export async function schemaViolations(objects: KObject[]): Promise<string[]> {
  const violations: string[] = [];
  for (const object of objects) {
    const where = `${object.apiVersion} ${id(object)}`;
    const crd = ['postgresql.cnpg.io', 'barmancloud.cnpg.io'].includes(group(object.apiVersion)) ? crdValidator(object.apiVersion, object.kind) : undefined;
    if (crd !== undefined) {
      // The CRD schema says only `metadata: {type: object}`: check metadata with the ObjectMeta model.
      if (!crd(object)) violations.push(...(crd.errors ?? []).map((e) => `${where}: ${crdMessage(e)}`));
      const meta = runModel(ObjectMeta, object.metadata);
      if (meta.error !== undefined) violations.push(`${where}: metadata: ${meta.error}`);
      violations.push(...meta.unknown.map((field) => `${where}: unknown field metadata.${field}`));
      continue;
    }
    const model = await modelClass(object.apiVersion, object.kind);
    if (model === undefined) {
      violations.push(`${where}: unknown kind (no model class or CRD schema for ${object.apiVersion} ${object.kind})`);
      continue;
    }
    const result = runModel(model, asDecoded(object));
    if (result.error !== undefined) violations.push(`${where}: ${result.error}`);
    violations.push(...result.unknown.map((field) => `${where}: unknown field ${field}`));
  }
  return violations;
}
