/**
 * The delivery pipeline, checked offline: every workflow passes actionlint and
 * every structural rule of rules.ts (fixtures.test.ts shows each rule failing
 * on a broken fixture, so both directions are exercised).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { APPROVAL_LABEL } from '../../tools/stack/src/schema-check.js';
import { requireTool } from '@cryptoagg/testkit/tools';
import { describe, expect, it } from 'vitest';
import { actionlint } from './actionlint.js';
import * as rules from './rules.js';
import { shellcheckWorkflow } from './shellcheck.js';
import { loadDependabot, loadWorkflow, repoRoot } from './workflow.js';

const workflowsDir = path.join(repoRoot, '.github/workflows');
const workflowFiles = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f));
const workflow = (name: string) => loadWorkflow(path.join(workflowsDir, name));
const targets = rules.dockerTargets(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));

describe('.github/workflows', () => {
  it('holds the CI, release and promotion workflows', () => {
    expect(workflowFiles.sort()).toEqual(['ci.yml', 'pin-images.yml', 'promote.yml', 'release.yml']);
  });

  it.each(workflowFiles)('%s passes actionlint', async (file) => {
    expect(await actionlint(readFileSync(path.join(workflowsDir, file), 'utf8'), file)).toEqual([]);
  });

  it.each(workflowFiles)('%s has run scripts that bash parses (actionlint here runs no shellcheck)', (file) => {
    for (const [jobId, job] of Object.entries(workflow(file).jobs)) {
      for (const [index, step] of (job.steps ?? []).entries()) {
        if (step.run === undefined) continue;
        // Expressions are substituted before bash sees the script.
        const result = spawnSync('bash', ['-n'], { input: step.run.replace(/\$\{\{[^}]*\}\}/g, 'expr'), encoding: 'utf8' });
        expect(result.stderr, `jobs.${jobId}.steps[${index}]`).toBe('');
        expect(result.status, `jobs.${jobId}.steps[${index}]`).toBe(0);
      }
    }
  });

  it.skipIf(!requireTool('shellcheck')).each(workflowFiles)('%s passes shellcheck on every run script', (file) => {
    expect(shellcheckWorkflow(workflow(file))).toEqual([]);
  });

  it.each(workflowFiles)(
    '%s pins every action to a commit SHA with its version, on a Node 24 release, and declares least-privilege permissions everywhere',
    (file) => {
      const wf = workflow(file);
      expect(rules.pinnedActions(wf)).toEqual([]);
      expect(rules.node24Actions(wf)).toEqual([]);
      expect(rules.permissionsDeclared(wf)).toEqual([]);
      expect(rules.leastPrivilege(wf)).toEqual([]);
    },
  );

  it('CI lints, type-checks, checks generated files, the schema (label-gated), manifests and docs, and runs npm test against Postgres 17 and Redis 7', () => {
    const ci = workflow('ci.yml');
    expect(rules.ciChecks(APPROVAL_LABEL)(ci)).toEqual([]);
    expect(rules.testJob(ci)).toEqual([]);
  });

  it('release builds every Dockerfile target once, tags it with the commit and commits the tags to the dev overlay, one release at a time', () => {
    expect(targets).toEqual(['gateway', 'coins', 'prices', 'fetcher', 'migrate']);
    const release = workflow('release.yml');
    expect(rules.releaseTrigger(release)).toEqual([]);
    expect(rules.releaseImages(targets)(release)).toEqual([]);
    expect(rules.releaseConcurrency(release)).toEqual([]);
    expect(rules.gitopsDevOnly(targets)(release)).toEqual([]);
  });

  it('the images release pushes are the ones the overlays name', () => {
    // kustomize edit set image matches the overlays' `images[].name`.
    for (const env of ['dev', 'prod']) {
      const kustomization = readFileSync(path.join(repoRoot, 'gitops/overlays', env, 'kustomization.yaml'), 'utf8');
      for (const target of targets) expect(kustomization).toContain(`name: ghcr.io/cryptoagg/crypto-aggregator/${target}\n`);
    }
    for (const file of ['release.yml', 'promote.yml']) {
      expect(readFileSync(path.join(workflowsDir, file), 'utf8')).toContain('kustomize edit set image "ghcr.io/cryptoagg/crypto-aggregator/${service}=');
    }
  });

  it('promotion writes the prod overlay only', () => {
    expect(rules.promoteToProd(targets)(workflow('promote.yml'))).toEqual([]);
  });

  it('third-party images are pinned by a scheduled pull request, not by hand', () => {
    expect(rules.pinImagesWorkflow(workflow('pin-images.yml'))).toEqual([]);
  });
});

describe('LICENSE', () => {
  it('holds the full text of the license package.json declares (Apache-2.0)', () => {
    expect((JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { license: string }).license).toBe('Apache-2.0');
    const text = readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8');
    expect(text).toMatch(/^\s+Apache License\n\s+Version 2\.0, January 2004\n\s+http:\/\/www\.apache\.org\/licenses\/\n/);
    const sections = [...text.matchAll(/^\s+(\d)\. ([A-Z][\w ]+)\./gm)].map((m) => `${m[1]}. ${m[2]}`);
    expect(sections).toEqual([
      '1. Definitions',
      '2. Grant of Copyright License',
      '3. Grant of Patent License',
      '4. Redistribution',
      '5. Submission of Contributions',
      '6. Trademarks',
      '7. Disclaimer of Warranty',
      '8. Limitation of Liability',
      '9. Accepting Warranty or Additional Liability',
    ]);
    expect(text).toContain('END OF TERMS AND CONDITIONS');
  });
});

describe('.github/dependabot.yml', () => {
  it('updates npm (grouped), the pinned actions and the Docker base image weekly', () => {
    expect(rules.dependabotConfig(loadDependabot(path.join(repoRoot, '.github/dependabot.yml')))).toEqual([]);
  });
});
