/**
 * The backfill Job (gitops/jobs/backfill.yaml): run by hand, never synced, and
 * as safe as the fetcher's CronJob it stands beside.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '@cryptoagg/core';
import { ENTRY_POINTS } from '@cryptoagg/stack';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { fetcherConfigSchema } from '../../jobs/fetcher/src/config.js';
import { containers, get, loadObjects, repoRoot } from './k8s.js';
import { resources, securityContext } from './policies.js';
import { schemaViolations } from './schemas.js';

const JOB = 'gitops/jobs/backfill.yaml';
const objects = loadObjects(path.join(repoRoot, JOB));
const [job] = objects;

/** Every kustomization.yaml under gitops/, and what it lists. */
function kustomizations(dir = path.join(repoRoot, 'gitops')): { file: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return kustomizations(full);
    return entry.name === 'kustomization.yaml' ? [{ file: path.relative(repoRoot, full), text: readFileSync(full, 'utf8') }] : [];
  });
}

describe('the backfill Job', () => {
  it('is one Job that matches its schema, with resources and the non-root read-only security context of every workload', async () => {
    expect(objects.map((o) => o.kind)).toEqual(['Job']);
    expect(await schemaViolations(objects.map((o) => ({ ...o, metadata: { ...o.metadata, name: 'backfill-x' } })))).toEqual([]);
    expect(resources(objects)).toEqual([]);
    expect(securityContext(objects)).toEqual([]);
  });

  it('is in no kustomization and outside what Argo CD syncs, so it never runs by itself', () => {
    const jobs = path.join(repoRoot, 'gitops/jobs');
    for (const { file, text } of kustomizations()) {
      const kustomization = parseYaml(text) as Record<string, unknown>;
      const listed = ['resources', 'components'].flatMap((key) => (Array.isArray(kustomization[key]) ? (kustomization[key] as string[]) : []));
      expect(
        listed.map((entry) => path.resolve(repoRoot, path.dirname(file), entry)).filter((entry) => entry.startsWith(jobs)),
        file,
      ).toEqual([]);
    }
    const root = loadObjects(path.join(repoRoot, 'gitops/argocd/root.yaml')).find((o) => o.kind === 'Application');
    expect([get(root, 'spec', 'source', 'path'), get(root, 'spec', 'source', 'directory', 'recurse')]).toEqual(['gitops/argocd', false]);
    expect(readFileSync(path.join(repoRoot, 'gitops/argocd/applicationset.yaml'), 'utf8')).toContain('path: "gitops/overlays/{{.env}}"');
    // A new name per run (kubectl create), so it can be run again.
    expect(get(job, 'metadata', 'generateName')).toBe('backfill-');
  });

  it('runs the backfill bundle of the fetcher image, with the fetcher’s labels (its NetworkPolicy) and configuration', () => {
    const [only] = containers(objects);
    const container = only?.container as { image?: string; command?: string[]; args?: string[]; env?: { name: string; value?: string }[] } | undefined;
    expect(container?.image).toBe('ghcr.io/cryptoagg/crypto-aggregator/fetcher');
    expect(container?.command).toEqual(['node', '--enable-source-maps', `dist/backfill.js`]);
    expect(ENTRY_POINTS.backfill).toBe('jobs/fetcher/src/backfill-main.ts');
    expect(container?.args).toEqual(['--days', '365']);
    expect(get(job, 'spec', 'template', 'metadata', 'labels', 'app.kubernetes.io/name')).toBe('fetcher');

    // Every variable is one of the fetcher's, the whole set parses, and the shared values are the CronJob's.
    const values = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? 'from-a-secret']));
    const parsed = parseConfig(fetcherConfigSchema, { ...values, DATABASE_URL: 'postgres://u:p@db:5432/x' });
    expect(parsed.ok ? [] : parsed.errors).toEqual([]);
    const base = Object.fromEntries(
      readFileSync(path.join(repoRoot, 'gitops/base/fetcher/config.env'), 'utf8')
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => line.split('=', 2) as [string, string]),
    );
    for (const name of ['COINGECKO_BASE_URL', 'FETCH_CURRENCIES', 'MIGRATE_ON_START', 'NODE_ENV']) expect(values[name], name).toBe(base[name]);
    expect(Number(values.COINGECKO_RATE_LIMIT_PER_MIN)).toBeLessThan(Number(base.COINGECKO_RATE_LIMIT_PER_MIN));
  });
});
