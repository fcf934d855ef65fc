/**
 * Loading GitHub Actions workflows (and the Dependabot config) for the
 * structural rules: the parsed YAML as a loosely typed model, plus the YAML
 * document itself, which keeps the comments (`uses: ...@<sha> # v4.2.2`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Document, isScalar, parseDocument } from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

type Permissions = string | Record<string, string>;

interface Concurrency {
  group?: string;
  'cancel-in-progress'?: boolean | string;
}

export interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string | boolean;
  'working-directory'?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}

interface Service {
  image?: string;
  env?: Record<string, unknown>;
  ports?: (string | number)[];
  options?: string;
}

export interface Job {
  name?: string;
  needs?: string | string[];
  if?: string | boolean;
  uses?: string;
  permissions?: Permissions;
  concurrency?: string | Concurrency;
  strategy?: { matrix?: Record<string, unknown> };
  services?: Record<string, Service>;
  env?: Record<string, unknown>;
  steps?: Step[];
}

export interface Workflow {
  /** where it came from, for messages */
  file: string;
  text: string;
  doc: Document;
  /** the triggers, normalised to an object (`on: push` -> `{ push: null }`) */
  on: Record<string, unknown>;
  permissions?: Permissions;
  concurrency?: string | Concurrency;
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseYaml(text: string, file: string): { doc: Document; data: Record<string, unknown> } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
  const data: unknown = doc.toJS();
  if (!isRecord(data)) throw new Error(`${file}: not a YAML mapping`);
  return { doc, data };
}

function parseWorkflow(text: string, file: string): Workflow {
  const { doc, data } = parseYaml(text, file);
  const on = data.on;
  const triggers: Record<string, unknown> =
    typeof on === 'string' ? { [on]: null } : Array.isArray(on) ? Object.fromEntries(on.map((t) => [String(t), null])) : isRecord(on) ? on : {};
  const jobs = isRecord(data.jobs) ? data.jobs : {};
  for (const [id, job] of Object.entries(jobs)) {
    if (!isRecord(job)) throw new Error(`${file}: job ${id} is not a mapping`);
    if (job.steps !== undefined && !(Array.isArray(job.steps) && job.steps.every(isRecord))) throw new Error(`${file}: job ${id} has malformed steps`);
  }
  return {
    file,
    text,
    doc,
    on: triggers,
    permissions: data.permissions as Permissions | undefined,
    concurrency: data.concurrency as Workflow['concurrency'],
    env: isRecord(data.env) ? data.env : undefined,
    jobs: jobs as Record<string, Job>,
  };
}

export const loadWorkflow = (file: string): Workflow => parseWorkflow(readFileSync(file, 'utf8'), path.relative(repoRoot, file));

/** The comment on the same line as a value (`uses: a/b@<sha> # v1.2.3` -> `v1.2.3`). */
export function inlineComment(doc: Document, at: (string | number)[]): string | undefined {
  const node: unknown = doc.getIn(at, true);
  return isScalar(node) ? node.comment?.trim() : undefined;
}

interface DependabotUpdate {
  'package-ecosystem'?: string;
  directory?: string;
  schedule?: { interval?: string };
  groups?: Record<string, { patterns?: string[] }>;
}

export interface DependabotConfig {
  file: string;
  version?: number;
  updates: DependabotUpdate[];
}

function parseDependabot(text: string, file: string): DependabotConfig {
  const { data } = parseYaml(text, file);
  const updates = Array.isArray(data.updates) ? data.updates.filter(isRecord) : [];
  return { file, version: typeof data.version === 'number' ? data.version : undefined, updates };
}

export const loadDependabot = (file: string): DependabotConfig => parseDependabot(readFileSync(file, 'utf8'), path.relative(repoRoot, file));
