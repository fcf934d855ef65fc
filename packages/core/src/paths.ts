import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository root (or /app in an image): the nearest folder above this
 * module holding both package.json and schema/. Found by walking up because the
 * module runs from packages/core/src in development and from a bundle in dist/
 * in a container.
 */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'schema'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no project root (package.json + schema/) above ${from}`);
  }
}

export const REPO_ROOT = findRoot(import.meta.dirname);

/** The SDL, the subgraph manifest and the contract operations: the image ships this folder, the services read it at run time. */
export const SCHEMA_DIR = path.join(REPO_ROOT, 'schema');
/** The subgraph roster (see subgraphs.ts). */
export const SUBGRAPH_MANIFEST_PATH = path.join(SCHEMA_DIR, 'subgraphs.yaml');
/** The public operations of the product contract, pinned (test/contract checks the copy against the contract). */
const CONTRACT_OPERATIONS_PATH = path.join(SCHEMA_DIR, 'contract', 'operations.graphql');
export const readContractOperations = (): string => readFileSync(CONTRACT_OPERATIONS_PATH, 'utf8');
/** The supergraph composed by `npm run compose`, which the gateway serves. */
export const SUPERGRAPH_PATH = path.join(REPO_ROOT, 'gateway', 'supergraph.graphql');
/** The HTML schema reference built by `npm run docs`, served by the gateway at /docs. */
export const DOCS_SITE_DIR = path.join(REPO_ROOT, 'docs', 'site');
/** Local state of `npm start` (the embedded PostgreSQL's data), kept across restarts and out of git. */
export const DATA_DIR = path.join(REPO_ROOT, '.data');
