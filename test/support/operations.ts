import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/db';

/** The contract's public operations, pinned in the repository (a test checks the copy against the contract). */
export const OPERATIONS_PATH = path.join(REPO_ROOT, 'test', 'contract', 'operations.graphql');
export const OPERATIONS = readFileSync(OPERATIONS_PATH, 'utf8');
