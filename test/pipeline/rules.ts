/**
 * Structural rules for the delivery pipeline: each a pure function from a
 * parsed workflow (or the Dependabot config) to its violations, one readable
 * line each, empty when the rule holds. pipeline.test.ts runs them on
 * .github/, fixtures.test.ts proves each catches a broken fixture.
 * actionlint checks syntax and expressions; these check our own policy.
 */
import { type DependabotConfig, type Job, type Step, type Workflow, inlineComment, isRecord } from './workflow.js';

export type Rule = (workflow: Workflow) => string[];

interface StepAt {
  jobId: string;
  job: Job;
  step: Step;
  index: number;
  where: string;
}

const stepsOf = (workflow: Workflow): StepAt[] =>
  Object.entries(workflow.jobs).flatMap(([jobId, job]) =>
    (job.steps ?? []).map((step, index) => ({ jobId, job, step, index, where: `jobs.${jobId}.steps[${index}]${step.name ? ` (${step.name})` : ''}` })),
  );

const uses = (step: Step, action: string) => step.uses?.split('@')[0] === action;

/** The shell lines of a step, with `\` continuations joined and comments dropped. */
const commandLines = (run: string | undefined): string[] =>
  (run ?? '')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

const stepText = (step: Step) => [step.run ?? '', step['working-directory'] ?? '', ...Object.values(step.with ?? {}).map(text)].join('\n');
const jobText = (job: Job) => (job.steps ?? []).map(stepText).join('\n');

const runsGitPush = (job: Job) => (job.steps ?? []).some((s) => commandLines(s.run).some((l) => /\bgit push\b/.test(l)));
const opensPullRequest = (job: Job) => (job.steps ?? []).some((s) => uses(s, 'peter-evans/create-pull-request') || /\bgh pr create\b/.test(s.run ?? ''));
/** Jobs that write to the repository: a `git push`, or a pull request opened by an action. */
const writingJobs = (workflow: Workflow) => Object.entries(workflow.jobs).filter(([, job]) => runsGitPush(job) || opensPullRequest(job));

const isTrue = (value: unknown) => value === true || value === 'true';
/** A scalar YAML value as text ('' for anything else). */
const text = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '');
const asList = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.map(String)
    : typeof value === 'string'
      ? value
          .split(/[\n,]/)
          .map((s) => s.trim())
          .filter(Boolean)
      : [];

// ---------------------------------------------------------------------------
// Every workflow

const SHA_PINNED = /^[\w.-]+\/[\w.-]+(\/[^@\s]+)?@[0-9a-f]{40}$/;
const VERSION_COMMENT = /^v\d+(\.\d+){0,2}\b/;

/** Every action and reusable workflow is pinned to a full commit SHA, with the release it is in a `# vX.Y.Z` comment. */
export const pinnedActions: Rule = (workflow) => {
  const violations: string[] = [];
  const check = (where: string, ref: string, comment: string | undefined) => {
    if (ref.startsWith('./')) return; // this repository, at the same commit
    if (ref.startsWith('docker://')) {
      if (!/@sha256:[0-9a-f]{64}$/.test(ref)) violations.push(`${where}: ${ref} is not pinned to an image digest`);
      return;
    }
    if (!SHA_PINNED.test(ref)) violations.push(`${where}: ${ref} is not pinned to a full 40-hex commit SHA`);
    else if (comment === undefined || !VERSION_COMMENT.test(comment)) violations.push(`${where}: ${ref} has no "# vX.Y.Z" comment naming its release`);
  };
  for (const [jobId, job] of Object.entries(workflow.jobs)) {
    if (job.uses !== undefined) check(`jobs.${jobId}`, job.uses, inlineComment(workflow.doc, ['jobs', jobId, 'uses']));
  }
  for (const { jobId, step, index, where } of stepsOf(workflow)) {
    if (step.uses !== undefined) check(where, step.uses, inlineComment(workflow.doc, ['jobs', jobId, 'steps', index, 'uses']));
  }
  return violations;
};

/**
 * The majors each action runs on Node 24 from (GitHub's hosted runners have
 * dropped Node 20): a pin to an older release is a workflow that no longer runs.
 */
const NODE24_MAJORS: Record<string, number> = {
  'actions/checkout': 5,
  'actions/setup-node': 5,
  'actions/upload-artifact': 6,
  'actions/download-artifact': 6,
  'docker/login-action': 4,
  'docker/setup-buildx-action': 4,
  'docker/build-push-action': 7,
  'peter-evans/create-pull-request': 8,
};

/** Every action we know the Node 24 major of is pinned to a release of that major or later (the `# vX.Y.Z` comment). */
export const node24Actions: Rule = (workflow) => {
  const violations: string[] = [];
  for (const { jobId, step, index, where } of stepsOf(workflow)) {
    const [action = '', ref] = (step.uses ?? '').split('@');
    const minimum = NODE24_MAJORS[action];
    if (minimum === undefined || ref === undefined) continue;
    const major = /^v(\d+)/.exec(inlineComment(workflow.doc, ['jobs', jobId, 'steps', index, 'uses']) ?? '')?.[1];
    if (major === undefined || Number(major) < minimum)
      violations.push(
        `${where}: ${action} ${major === undefined ? '(unknown release)' : `v${major}`} runs on Node 20, which hosted runners no longer have: v${minimum} or later`,
      );
  }
  return violations;
};

const writes = (permissions: Workflow['permissions']): string[] =>
  permissions === 'write-all'
    ? ['write-all']
    : isRecord(permissions)
      ? Object.entries(permissions)
          .filter(([, level]) => level === 'write')
          .map(([scope]) => scope)
      : [];

/** `permissions:` at the top (read-only) and on every job, so no job silently gets the repository's default token scopes. */
export const permissionsDeclared: Rule = (workflow) => {
  const violations: string[] = [];
  if (workflow.permissions === undefined) violations.push('no top-level permissions (the token would get the repository default)');
  else if (writes(workflow.permissions).length > 0) {
    violations.push(`top-level permissions grant ${writes(workflow.permissions).join(', ')} write to every job: grant it on the job that needs it`);
  }
  for (const [jobId, job] of Object.entries(workflow.jobs)) {
    if (job.permissions === undefined) violations.push(`jobs.${jobId}: no permissions`);
  }
  return violations;
};

/** A job's write scopes are the ones its steps use: packages to push images, contents to push commits, pull-requests to open one. */
export const leastPrivilege: Rule = (workflow) => {
  const violations: string[] = [];
  for (const [jobId, job] of Object.entries(workflow.jobs)) {
    const steps = job.steps ?? [];
    const needs: Record<string, boolean> = {
      packages: steps.some((s) => uses(s, 'docker/build-push-action') && isTrue(s.with?.push)),
      contents: runsGitPush(job) || opensPullRequest(job),
      'pull-requests': opensPullRequest(job),
    };
    for (const scope of writes(job.permissions)) {
      if (scope === 'write-all') violations.push(`jobs.${jobId}: permissions write-all`);
      else if (!needs[scope]) violations.push(`jobs.${jobId}: ${scope}: write, but no step needs it`);
    }
  }
  return violations;
};

// ---------------------------------------------------------------------------
// ci.yml

const setupNode = (job: Job) => (job.steps ?? []).find((s) => uses(s, 'actions/setup-node'));

/** What CI must run besides the tests: lint, types, fresh generated files, the schema check gated by the label, manifests, docs. */
export const ciChecks =
  (approvalLabel: string): Rule =>
  (workflow) => {
    const violations: string[] = [];
    for (const trigger of ['pull_request', 'push', 'workflow_call']) {
      if (!(trigger in workflow.on)) violations.push(`not triggered by ${trigger}`);
    }
    const pr = workflow.on.pull_request;
    const types = isRecord(pr) ? asList(pr.types) : [];
    if (!types.includes('labeled') || !types.includes('unlabeled'))
      violations.push('pull_request types lack labeled/unlabeled: the approval label would not re-run the schema check');

    const all = stepsOf(workflow);
    const lines = all.flatMap(({ step }) => commandLines(step.run));
    for (const command of [
      'npm ci',
      'npm run lint',
      'npm run typecheck',
      'npm run docs',
      'kubectl kustomize gitops/overlays/dev',
      'kubectl kustomize gitops/overlays/prod',
    ]) {
      if (!lines.some((l) => l === command || l.startsWith(`${command} `))) violations.push(`no step runs ${command}`);
    }
    const followedBy = (first: RegExp, then: string) =>
      all.some(({ step }) => {
        const l = commandLines(step.run);
        const at = l.findIndex((line) => first.test(line));
        return at >= 0 && l.slice(at + 1).some((line) => line === then);
      });
    if (!followedBy(/^npm run codegen\b/, 'git diff --exit-code')) violations.push('no step runs npm run codegen then git diff --exit-code');
    if (!followedBy(/^npm run compose\b/, 'git diff --exit-code gateway/supergraph.graphql')) {
      violations.push('no step runs npm run compose then git diff --exit-code gateway/supergraph.graphql');
    }

    const schema = all.filter(({ step }) => /\bnpm run schema:check\b/.test(step.run ?? ''));
    if (schema.length === 0) violations.push('no step runs npm run schema:check');
    for (const { step, where } of schema) {
      if (!/schema:check -- .*--base /.test(step.run ?? '')) violations.push(`${where}: schema:check without --base`);
      if ((step.run ?? '').includes('--allow-breaking')) {
        const condition = `contains(github.event.pull_request.labels.*.name, '${approvalLabel}')`;
        const gated = Object.values(step.env ?? {}).some((v) => text(v).includes(condition)) || text(step.if).includes(condition);
        if (!gated) violations.push(`${where}: --allow-breaking is not conditional on the label ${approvalLabel}`);
      }
    }

    for (const [jobId, job] of Object.entries(workflow.jobs)) {
      if (!(job.steps ?? []).some((s) => /\bnpm\b/.test(s.run ?? ''))) continue;
      const node = setupNode(job);
      if (node === undefined) violations.push(`jobs.${jobId}: runs npm without actions/setup-node`);
      else if (text(node.with?.['node-version']) !== '24' || node.with?.cache !== 'npm')
        violations.push(`jobs.${jobId}: setup-node is not node-version 24 with cache npm`);
    }
    return violations;
  };

const TEST_RUN = /\b(npm (run |run-script )?test\b|vitest\b)/;
const README_TEST = /^npm test(?: -- .+)?$/;

/** Service port published on the runner for a container port (`'5432:5432'`). */
const publishes = (ports: (string | number)[] | undefined, hostPort: string) => (ports ?? []).some((p) => String(p).split(':')[0] === hostPort);

/**
 * The tests are the README's `npm test` (extra vitest flags after `--` are
 * fine), run once, in a job with PostgreSQL 17 (the major prod runs) and
 * Redis 7 service containers that DATABASE_URL / REDIS_URL point at, CI=true,
 * the tools some tests run, and the results uploaded even when tests fail.
 */
export const testJob: Rule = (workflow) => {
  const violations: string[] = [];
  const runs = stepsOf(workflow).flatMap((at) =>
    commandLines(at.step.run)
      .filter((line) => TEST_RUN.test(line))
      .map((line) => ({ ...at, line })),
  );
  if (runs.length === 0) return ['no step runs npm test'];
  for (const { where, line } of runs) {
    if (!README_TEST.test(line)) violations.push(`${where}: runs "${line}", not the README's npm test`);
  }
  if (runs.length > 1) violations.push(`tests run ${runs.length} times (${runs.map((r) => r.where).join(', ')}): once is enough`);

  const { job, jobId, step } = runs[0]!;
  const env: Record<string, unknown> = { ...workflow.env, ...job.env, ...step.env };
  if (!isTrue(env.CI)) violations.push(`jobs.${jobId}: CI is not 'true'`);
  const services = Object.values(job.services ?? {});
  for (const [variable, wanted, image, protocol] of [
    ['DATABASE_URL', 'postgres:17', /^postgres:17([.-]|@|$)/, /^postgres(ql)?:$/],
    ['REDIS_URL', 'redis:7', /^redis:7([.-]|$)/, /^rediss?:$/],
  ] as const) {
    const service = services.find((s) => image.test(s.image ?? ''));
    if (service === undefined) violations.push(`jobs.${jobId}: no ${wanted} service container`);
    const value = env[variable];
    if (typeof value !== 'string') {
      violations.push(`jobs.${jobId}: ${variable} is not set`);
      continue;
    }
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      violations.push(`jobs.${jobId}: ${variable} is not a URL`);
      continue;
    }
    if (!protocol.test(url.protocol)) violations.push(`jobs.${jobId}: ${variable} has protocol ${url.protocol}`);
    if (service !== undefined && !publishes(service.ports, url.port))
      violations.push(`jobs.${jobId}: ${variable} port ${url.port} is not published by the ${service.image} service`);
  }
  const install = (job.steps ?? []).flatMap((s) => commandLines(s.run)).find((l) => /apt-get install/.test(l)) ?? '';
  for (const pkg of ['redis-server', 'prometheus', 'shellcheck']) {
    if (!new RegExp(`\\b${pkg}\\b`).test(install)) violations.push(`jobs.${jobId}: does not install ${pkg} (some tests run it)`);
  }
  const upload = (job.steps ?? []).find((s) => uses(s, 'actions/upload-artifact'));
  if (upload === undefined) violations.push(`jobs.${jobId}: test results are not uploaded`);
  else if (!/always\(\)|failure\(\)/.test(text(upload.if))) violations.push(`jobs.${jobId}: test results are not uploaded when tests fail`);
  return violations;
};

// ---------------------------------------------------------------------------
// release.yml

/** Triggered by pushes to main only, ignoring gitops/** so the gitops commit starts no release of its own. */
export const releaseTrigger: Rule = (workflow) => {
  const violations: string[] = [];
  const push = workflow.on.push;
  if (!isRecord(push)) return ['not triggered by push to main'];
  if (!asList(push.branches).includes('main')) violations.push('push trigger is not limited to main');
  if (!asList(push['paths-ignore']).includes('gitops/**'))
    violations.push("push trigger lacks paths-ignore: ['gitops/**'] (the gitops commit would start another release)");
  const others = Object.keys(workflow.on).filter((t) => t !== 'push' && t !== 'workflow_dispatch');
  if (others.length > 0) violations.push(`also triggered by ${others.join(', ')}`);
  return violations;
};

const buildJobs = (workflow: Workflow) => Object.entries(workflow.jobs).filter(([, job]) => (job.steps ?? []).some((s) => uses(s, 'docker/build-push-action')));
const needsOf = (job: Job) => asList(job.needs);

/** Names of the Dockerfile's final stages: the ones no other stage builds on or copies from (one per service image). */
export function dockerTargets(dockerfile: string): string[] {
  const stages: { name: string; base: string }[] = [];
  const copied = new Set<string>();
  for (const line of dockerfile.split('\n')) {
    const from = /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line.trim());
    if (from) stages.push({ base: from[1]!, name: from[2] ?? '' });
    const copy = /^COPY\s.*--from=(\S+)/i.exec(line.trim());
    if (copy) copied.add(copy[1]!);
  }
  const used = new Set([...stages.map((s) => s.base), ...copied]);
  return stages.map((s) => s.name).filter((name) => name !== '' && !used.has(name));
}

/**
 * One job builds every Dockerfile target once (a matrix), after CI passed,
 * pushes it to GHCR tagged with the commit SHA, with provenance, SBOM and the
 * GitHub Actions cache.
 */
export const releaseImages =
  (targets: string[]): Rule =>
  (workflow) => {
    const jobs = buildJobs(workflow);
    if (jobs.length !== 1) return [`${jobs.length} jobs build images: one job (a matrix over the targets) builds each once`];
    const [jobId, job] = jobs[0]!;
    const violations: string[] = [];
    const ciJob = Object.entries(workflow.jobs).find(([, j]) => j.uses?.startsWith('./.github/workflows/ci.yml'));
    if (ciJob === undefined) violations.push('CI (./.github/workflows/ci.yml) does not run before the images are built');
    else if (!needsOf(job).includes(ciJob[0])) violations.push(`jobs.${jobId}: does not need ${ciJob[0]}: images of a commit that failed CI would be pushed`);

    const builds = (job.steps ?? []).filter((s) => uses(s, 'docker/build-push-action'));
    const built = builds.flatMap((s) => {
      const target = text(s.with?.target);
      const key = /^\$\{\{\s*matrix\.([\w-]+)\s*\}\}$/.exec(target)?.[1];
      return key === undefined ? [target] : asList(job.strategy?.matrix?.[key]);
    });
    for (const target of targets) if (!built.includes(target)) violations.push(`jobs.${jobId}: does not build the ${target} target`);
    for (const target of built)
      if (!targets.includes(target)) violations.push(`jobs.${jobId}: builds ${target || 'no target'}, not a target of the Dockerfile`);
    if (new Set(built).size !== built.length) violations.push(`jobs.${jobId}: builds a target more than once`);

    for (const step of builds) {
      const w = step.with ?? {};
      const tags = asList(w.tags);
      if (!isTrue(w.push)) violations.push(`jobs.${jobId}: images are not pushed`);
      if (tags.length === 0 || !tags.every((t) => /\$\{\{\s*github\.sha\s*\}\}$/.test(t)))
        violations.push(`jobs.${jobId}: tags are not the commit SHA (${tags.join(', ') || 'none'})`);
      if (tags.some((t) => /:latest$/.test(t))) violations.push(`jobs.${jobId}: tags latest`);
      if (!isTrue(w.provenance)) violations.push(`jobs.${jobId}: no provenance attestation`);
      if (!isTrue(w.sbom)) violations.push(`jobs.${jobId}: no SBOM attestation`);
      if (!text(w['cache-from']).includes('type=gha') || !text(w['cache-to']).includes('type=gha')) violations.push(`jobs.${jobId}: no type=gha build cache`);
    }
    if (!/ghcr\.io\/\$\{(GITHUB_REPOSITORY|\{\s*github\.repository)/.test(jobText(job)))
      violations.push(`jobs.${jobId}: images are not named ghcr.io/<this repository>/<service>`);
    if (!(job.steps ?? []).some((s) => uses(s, 'docker/login-action') && s.with?.registry === 'ghcr.io'))
      violations.push(`jobs.${jobId}: does not log in to ghcr.io`);
    return violations;
  };

/** The job that commits to gitops is serialised by a concurrency group and never cancelled halfway. */
export const releaseConcurrency: Rule = (workflow) => {
  const jobs = Object.entries(workflow.jobs).filter(([, job]) => runsGitPush(job));
  if (jobs.length === 0) return ['no job commits the gitops change'];
  const violations: string[] = [];
  for (const [jobId, job] of jobs) {
    const concurrency = job.concurrency ?? workflow.concurrency;
    const group = typeof concurrency === 'string' ? concurrency : concurrency?.group;
    if (!group) violations.push(`jobs.${jobId}: no concurrency group: two releases could race on the gitops commit`);
    else if (typeof concurrency !== 'string' && concurrency?.['cancel-in-progress'] !== false) {
      violations.push(`jobs.${jobId}: concurrency cancel-in-progress is not false: a newer push could cancel a gitops commit halfway`);
    }
  }
  return violations;
};

const OVERLAY = /gitops\/overlays\/([\w-]+)/g;
const overlaysIn = (text: string) => [...text.matchAll(OVERLAY)].map((m) => m[1]!);

/** Steps that edit an overlay's images, with the overlay each edits (its working-directory, or a `cd`). */
const imageEdits = (job: Job) =>
  (job.steps ?? [])
    .filter((s) => /\bkustomize edit set image\b/.test(s.run ?? ''))
    .map((step) => ({ step, overlays: overlaysIn(`${step['working-directory'] ?? ''}\n${(step.run ?? '').match(/\bcd\s+\S+/g)?.join('\n') ?? ''}`) }));

/** Paths a step stages: `git add` arguments, and create-pull-request's add-paths (all files when unset). */
function stagedPaths(step: Step): string[] {
  const paths = commandLines(step.run)
    .filter((l) => /^git (add|commit)\b/.test(l))
    .flatMap((l) => {
      if (/^git commit\b.*\s-(a|-all)\b/.test(l)) return ['<every tracked file>'];
      if (!l.startsWith('git add')) return [];
      const args = l
        .replace(/^git add\s*/, '')
        .split(/\s+/)
        .filter((a) => a !== '' && a !== '--' && !/^-[^-]/.test(a) && !/^--(?!$)/.test(a));
      return /\s(-A|--all)\b/.test(l) || args.length === 0 ? ['<every file>'] : args;
    });
  if (uses(step, 'peter-evans/create-pull-request'))
    paths.push(...(asList(step.with?.['add-paths']).length > 0 ? asList(step.with?.['add-paths']) : ['<every file>']));
  return paths;
}

/** The job(s) writing to the repository edit only the given overlay's images, for every target, and stage nothing else. */
/** An image set by `kustomize edit set image` pinned to a digest as well as a tag (`...:sha-<commit>@<digest>`). */
const BY_DIGEST = /:sha-\$\{?[\w:]+\}?@\$\{?\w+\}?/;

const writesOnlyOverlay = (workflow: Workflow, env: string, targets: string[], version: RegExp, what: string): string[] => {
  const jobs = writingJobs(workflow);
  if (jobs.length === 0) return ['no job writes the gitops change'];
  const violations: string[] = [];
  for (const [jobId, job] of jobs) {
    const edits = imageEdits(job);
    if (edits.length === 0) violations.push(`jobs.${jobId}: no step runs kustomize edit set image`);
    for (const { step, overlays } of edits) {
      if (overlays.length === 0 || overlays.some((o) => o !== env)) {
        violations.push(
          `jobs.${jobId}: kustomize edit set image runs in ${overlays.map((o) => `gitops/overlays/${o}`).join(', ') || 'no overlay'}, not gitops/overlays/${env}`,
        );
      }
      for (const target of targets) if (!new RegExp(`\\b${target}\\b`).test(step.run ?? '')) violations.push(`jobs.${jobId}: does not set the ${target} image`);
      if (!version.test(step.run ?? '')) violations.push(`jobs.${jobId}: the images are not set to ${what}`);
      if (!BY_DIGEST.test(step.run ?? '')) violations.push(`jobs.${jobId}: the images are set by tag only, not pinned by digest (image:tag@digest)`);
    }
    for (const step of job.steps ?? []) {
      for (const staged of stagedPaths(step)) {
        if (!staged.startsWith(`gitops/overlays/${env}`)) violations.push(`jobs.${jobId}: commits ${staged}, outside gitops/overlays/${env}`);
      }
    }
  }
  return violations;
};

/** The gitops job sets the five images of gitops/overlays/dev (and nothing else) to this commit's tags, after the images are pushed. */
export const gitopsDevOnly =
  (targets: string[]): Rule =>
  (workflow) => {
    const violations = writesOnlyOverlay(workflow, 'dev', targets, /sha-\$\{?(GITHUB_SHA|\{\s*github\.sha)/, 'this commit (sha-<GITHUB_SHA>)');
    const imageJobs = buildJobs(workflow).map(([id]) => id);
    for (const [jobId, job] of writingJobs(workflow)) {
      const mentioned = [...new Set(overlaysIn(jobText(job)))].filter((o) => o !== 'dev');
      if (mentioned.length > 0) violations.push(`jobs.${jobId}: mentions ${mentioned.map((o) => `gitops/overlays/${o}`).join(', ')}: release touches dev only`);
      if (!imageJobs.some((id) => needsOf(job).includes(id))) violations.push(`jobs.${jobId}: does not wait for the image job`);
    }
    return violations;
  };

// ---------------------------------------------------------------------------
// promote.yml

/** Started by hand; sets the five images of gitops/overlays/prod (and stages nothing else) to tags that ran in dev. */
export const promoteToProd =
  (targets: string[]): Rule =>
  (workflow) => {
    const violations: string[] = [];
    if (!('workflow_dispatch' in workflow.on)) violations.push('not started by workflow_dispatch');
    const others = Object.keys(workflow.on).filter((t) => t !== 'workflow_dispatch');
    if (others.length > 0) violations.push(`also triggered by ${others.join(', ')}: promotion is a decision`);
    violations.push(...writesOnlyOverlay(workflow, 'prod', targets, /sha-\$\{?\w+/, 'a sha-<commit> tag'));
    return violations;
  };

// ---------------------------------------------------------------------------
// pin-images.yml

/**
 * Third-party images are pinned by a machine that reads the registries, on a
 * schedule: the workflow runs .github/scripts/pin-images.ts and proposes the
 * result as a pull request (review, CI) that touches the Dockerfile and gitops/
 * only, never a direct push.
 */
export const pinImagesWorkflow: Rule = (workflow) => {
  const violations: string[] = [];
  if (!('schedule' in workflow.on)) violations.push('not triggered by schedule: digests would only move when someone remembers');
  const steps = stepsOf(workflow);
  if (!steps.some(({ step }) => commandLines(step.run).some((l) => /\.github\/scripts\/pin-images\.ts\b/.test(l))))
    violations.push('no step runs .github/scripts/pin-images.ts');
  for (const [jobId, job] of Object.entries(workflow.jobs)) {
    if (runsGitPush(job)) violations.push(`jobs.${jobId}: pushes directly: digests change through a reviewed pull request`);
    for (const step of job.steps ?? []) {
      for (const staged of stagedPaths(step)) {
        if (staged !== 'Dockerfile' && !staged.startsWith('gitops/')) violations.push(`jobs.${jobId}: commits ${staged}, which holds no image reference`);
      }
    }
  }
  if (writingJobs(workflow).length === 0) violations.push('no job opens a pull request with the pinned digests');
  return violations;
};

// ---------------------------------------------------------------------------
// dependabot.yml

/** Weekly updates for npm (grouping the packages released together), the pinned actions and the Dockerfile's base image. */
export function dependabotConfig(config: DependabotConfig): string[] {
  const violations: string[] = [];
  if (config.version !== 2) violations.push('version is not 2');
  for (const ecosystem of ['npm', 'github-actions', 'docker']) {
    const update = config.updates.find((u) => u['package-ecosystem'] === ecosystem);
    if (update === undefined) violations.push(`no ${ecosystem} updates`);
    else if (update.schedule?.interval !== 'weekly') violations.push(`${ecosystem} updates are not weekly`);
  }
  const npm = config.updates.find((u) => u['package-ecosystem'] === 'npm');
  const patterns = Object.values(npm?.groups ?? {}).flatMap((g) => g.patterns ?? []);
  for (const [group, example] of [
    ['apollo', '@apollo/server'],
    ['graphql-codegen', '@graphql-codegen/cli'],
    ['vitest', 'vitest'],
  ]) {
    const matches = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(example!);
    if (npm !== undefined && !patterns.some(matches)) violations.push(`npm updates do not group ${group} (${example})`);
  }
  return violations;
}
