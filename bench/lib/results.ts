import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';

/** bench/results/, created on demand. */
export const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

/** Writes bench/results/<name>.json and returns its path. */
export async function writeResult(name: string, result: unknown): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
