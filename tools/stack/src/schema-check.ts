import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readSubgraphManifest, REPO_ROOT, SUBGRAPH_MANIFEST_PATH, subgraphs, type Subgraph } from '@cryptoagg/core';
import { composeSupergraph } from '@cryptoagg/gateway';
import { type Change, CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildASTSchema, concatAST, parse, type GraphQLSchema } from 'graphql';

/**
 * `npm run schema:check -- [--base <git ref>] [--root <dir>] [--allow-breaking]`:
 * the breaking-change check CI runs on every pull request. It compares each
 * subgraph's SDL and the supergraph's API schema (what clients see through the
 * gateway) at the base ref with the working tree, prints every change with its
 * criticality, and exits 1 when a change is BREAKING, unless --allow-breaking
 * (CI passes it when the pull request carries the label below). Exit 2 when it
 * cannot check at all (unknown ref, SDL that does not parse or compose).
 *
 * Subgraph SDL is built the plain graphql-js way, with the Federation
 * directive definitions of schema/federation-directives.graphql, as codegen
 * does: the diff is then about what the SDL declares, without the `_service` /
 * `_entities` machinery buildSubgraphSchema adds. A subgraph diff catches what
 * the API schema cannot see (a field moving between subgraphs changes the
 * query plans); the API schema diff is the contract with clients.
 */

/** The pull-request label that lets an agreed breaking change through (.github/workflows/ci.yml). */
export const APPROVAL_LABEL = 'breaking-change-approved';

/** A subgraph's SDL file under schema/, without `.graphql` (the manifest keeps each beside itself): what an SdlSource is asked for. */
const sdlName = (s: Subgraph): string => path.basename(s.sdlPath, '.graphql');

/** The subgraph SDL files under schema/ that the manifest lists; the supergraph is composed from them. */
export const SUBGRAPH_SDL: readonly string[] = subgraphs().map(sdlName);
const DIRECTIVES = 'federation-directives';

/** SDL by file stem under schema/ (`coins` -> schema/coins.graphql); undefined when the file does not exist. */
export type SdlSource = (name: string) => string | undefined;

export interface SchemaChange {
  level: CriticalityLevel;
  /** graphql-inspector's change type, for example FIELD_REMOVED */
  type: string;
  message: string;
  path?: string;
}

export interface SchemaReport {
  /** a subgraph's name, or `supergraph` */
  name: string;
  /** what was compared: `schema/coins.graphql`, or the API schema composed from schema/ */
  source: string;
  /** `compared`; `new` when there is no base version (nothing to break); `base-not-composable` when the base supergraph does not compose */
  status: 'compared' | 'new' | 'base-not-composable';
  changes: SchemaChange[];
}

const subgraphSchema = (sdl: string, directives: string): GraphQLSchema => buildASTSchema(concatAST([parse(sdl), parse(directives)]));

const toChange = (change: Change): SchemaChange => ({ level: change.criticality.level, type: String(change.type), message: change.message, path: change.path });

/** Composes the API schema, or undefined when a subgraph's SDL is missing. */
function apiSchema(source: SdlSource, roster: readonly Subgraph[]): GraphQLSchema | undefined {
  const sdl = new Map(roster.map((s) => [s.name, source(sdlName(s))]));
  if ([...sdl.values()].some((s) => s === undefined)) return undefined;
  return composeSupergraph(
    (name) => {
      const text = sdl.get(name);
      if (text === undefined) throw new Error(`no SDL for subgraph ${name}`);
      return text;
    },
    { subgraphs: roster },
  ).apiSchema;
}

/**
 * Compares every subgraph SDL and the composed API schema between two sources.
 * Throws when the head SDL does not parse or compose: that is not a schema
 * change but a broken schema, which CI's compose step names in detail.
 */
export async function checkSchemas({
  base,
  head,
  roster = subgraphs(),
}: {
  base: SdlSource;
  head: SdlSource;
  /** the subgraphs to check; default the repository's manifest */
  roster?: readonly Subgraph[];
}): Promise<SchemaReport[]> {
  const reports: SchemaReport[] = [];
  const headDirectives = head(DIRECTIVES);
  if (headDirectives === undefined) throw new Error(`schema/${DIRECTIVES}.graphql is missing`);
  for (const s of roster) {
    const { name } = s;
    const source = `schema/${sdlName(s)}.graphql`;
    const headSdl = head(sdlName(s));
    if (headSdl === undefined) throw new Error(`${source} is missing`);
    const baseSdl = base(sdlName(s));
    if (baseSdl === undefined) {
      reports.push({ name, source, status: 'new', changes: [] });
      continue;
    }
    const changes = await diff(subgraphSchema(baseSdl, base(DIRECTIVES) ?? headDirectives), subgraphSchema(headSdl, headDirectives));
    reports.push({ name, source, status: 'compared', changes: changes.map(toChange) });
  }

  const supergraph = { name: 'supergraph', source: 'API schema composed from schema/' };
  const headApi = apiSchema(head, roster);
  if (headApi === undefined) throw new Error('the subgraph SDL is incomplete');
  let baseApi: GraphQLSchema | undefined;
  try {
    baseApi = apiSchema(base, roster);
  } catch {
    // A base that does not compose cannot be broken further; the pull request that repairs it must pass.
    reports.push({ ...supergraph, status: 'base-not-composable', changes: [] });
    return reports;
  }
  if (baseApi === undefined) reports.push({ ...supergraph, status: 'new', changes: [] });
  else reports.push({ ...supergraph, status: 'compared', changes: (await diff(baseApi, headApi)).map(toChange) });
  return reports;
}

export const breakingChanges = (reports: SchemaReport[]) =>
  reports.flatMap((r) => r.changes.filter((c) => c.level === CriticalityLevel.Breaking).map((c) => ({ schema: r.name, ...c })));

/** The report as the CI log shows it: every change with its criticality, then the verdict. */
export function formatReport(reports: SchemaReport[], { base, allowBreaking }: { base: string; allowBreaking: boolean }): string {
  const lines: string[] = [];
  for (const report of reports) {
    const what = report.source;
    if (report.status === 'new') lines.push(`${report.name} (${what}): new, not in ${base}`);
    else if (report.status === 'base-not-composable') lines.push(`${report.name} (${what}): the subgraphs at ${base} do not compose; not compared`);
    else {
      const count = report.changes.length;
      lines.push(`${report.name} (${what}): ${count === 0 ? 'no changes' : `${count} change${count === 1 ? '' : 's'}`} since ${base}`);
      for (const change of report.changes) lines.push(`  ${change.level.padEnd(12)} ${change.message}${change.path ? ` (${change.path})` : ''}`);
    }
  }
  const breaking = breakingChanges(reports);
  if (breaking.length === 0) lines.push('no breaking change');
  else if (allowBreaking) lines.push(`${breaking.length} breaking change(s), allowed by --allow-breaking (label ${APPROVAL_LABEL})`);
  else {
    lines.push(
      `${breaking.length} breaking change(s): ${breaking.map((c) => `${c.schema}: ${c.path ?? c.message}`).join(', ')}.`,
      `Deprecate instead of removing, or, when the break is agreed with the API's clients, add the label ${APPROVAL_LABEL} to the pull request.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const git = (root: string, args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

/** SDL files of schema/ at a git ref: undefined for a file the ref does not have (a new file is not a breaking change). */
export function gitSource(root: string, ref: string): SdlSource {
  const commit = git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (commit.status !== 0) throw new Error(`unknown git ref ${ref} in ${root} (in CI, fetch the base branch first)`);
  return (name) => {
    // `<ref>:./<path>` is relative to the working directory, so --root may be a folder inside a larger repository.
    const spec = `${ref}:./schema/${name}.graphql`;
    if (git(root, ['cat-file', '-e', spec]).status !== 0) return undefined;
    const shown = git(root, ['show', spec]);
    if (shown.status !== 0) throw new Error(`git show ${spec} failed: ${shown.stderr.trim()}`);
    return shown.stdout;
  };
}

export const fileSource =
  (root: string): SdlSource =>
  (name) => {
    const file = path.join(root, 'schema', `${name}.graphql`);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  };

/** The CLI: returns the exit code (0 fine, 1 breaking change, 2 could not check). */
export async function main(argv: string[], out: (text: string) => void, err: (text: string) => void): Promise<number> {
  let options: { base: string; root: string; allowBreaking: boolean };
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        base: { type: 'string', default: 'origin/main' },
        root: { type: 'string', default: REPO_ROOT },
        'allow-breaking': { type: 'boolean', default: false },
      },
      strict: true,
    });
    options = { base: values.base, root: path.resolve(values.root), allowBreaking: values['allow-breaking'] };
  } catch (error) {
    err(`${error instanceof Error ? error.message : String(error)}\nusage: npm run schema:check -- [--base <git ref>] [--root <dir>] [--allow-breaking]\n`);
    return 2;
  }
  try {
    // The roster of the tree being checked: its own manifest.
    const roster = readSubgraphManifest(path.join(options.root, path.relative(REPO_ROOT, SUBGRAPH_MANIFEST_PATH)));
    const reports = await checkSchemas({ base: gitSource(options.root, options.base), head: fileSource(options.root), roster });
    out(formatReport(reports, { base: options.base, allowBreaking: options.allowBreaking }));
    return breakingChanges(reports).length > 0 && !options.allowBreaking ? 1 : 0;
  } catch (error) {
    err(`schema check failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === import.meta.filename) {
  process.exitCode = await main(
    process.argv.slice(2),
    (text) => process.stdout.write(text),
    (text) => process.stderr.write(text),
  );
}
