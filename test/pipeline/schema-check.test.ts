/**
 * The breaking-change check CI runs on pull requests (npm run schema:check):
 * the pure comparison on in-memory SDL, and the CLI against a throwaway git
 * repository holding a copy of schema/. schema/ itself is never modified.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type FieldDefinitionNode, Kind, parse, print, visit } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVAL_LABEL, breakingChanges, checkSchemas, formatReport, main, type SdlSource, SUBGRAPH_SDL } from '../../tools/stack/src/schema-check.js';
import { repoRoot } from './workflow.js';

const schemaFile = (name: string) => path.join(repoRoot, 'schema', `${name}.graphql`);
const current: SdlSource = (name) => (existsSync(schemaFile(name)) ? readFileSync(schemaFile(name), 'utf8') : undefined);

/** Edits one field of one type in SDL text through the AST (null removes it); throws when the field is not there. */
function editField(sdl: string, type: string, field: string, edit: (node: FieldDefinitionNode) => FieldDefinitionNode | null): string {
  let found = false;
  const document = visit(parse(sdl), {
    ObjectTypeDefinition(node) {
      if (node.name.value !== type) return undefined;
      const fields = (node.fields ?? []).flatMap((f) => {
        if (f.name.value !== field) return [f];
        found = true;
        const edited = edit(f);
        return edited === null ? [] : [edited];
      });
      return { ...node, fields };
    },
  });
  if (!found) throw new Error(`${type}.${field} is not in the SDL`);
  return print(document);
}

const removeHomepage = (sdl: string) => editField(sdl, 'Coin', 'homepage', () => null);
const rankAsString = (sdl: string) =>
  editField(sdl, 'Coin', 'marketCapRank', (f) => ({ ...f, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'String' } } }));
const addOptionalField = (sdl: string) =>
  sdl.replace(/^type Coin @key\(fields: "id"\) \{$/m, 'type Coin @key(fields: "id") {\n  "The year the coin launched."\n  launchYear: Int');

/** The working tree with one file edited. */
const edited =
  (name: string, edit: (sdl: string) => string): SdlSource =>
  (n) => {
    const sdl = current(n);
    return n === name && sdl !== undefined ? edit(sdl) : sdl;
  };

describe('checkSchemas', () => {
  it('checks the subgraph SDL files of schema/ and the supergraph', () => {
    const files = readdirSync(path.join(repoRoot, 'schema'))
      .filter((f) => f.endsWith('.graphql') && f !== 'federation-directives.graphql')
      .map((f) => f.replace(/\.graphql$/, ''));
    expect([...SUBGRAPH_SDL].sort()).toEqual(files.sort());
  });

  it('finds no change in an unchanged schema', async () => {
    const reports = await checkSchemas({ base: current, head: current });
    expect(reports.map((r) => [r.name, r.status, r.changes.length])).toEqual([
      ['coins', 'compared', 0],
      ['prices', 'compared', 0],
      ['supergraph', 'compared', 0],
    ]);
    expect(breakingChanges(reports)).toEqual([]);
  });

  it('reports an added optional field as non-breaking, in the subgraph and in the supergraph', async () => {
    expect(addOptionalField(current('coins')!)).toContain('launchYear: Int');
    const reports = await checkSchemas({ base: current, head: edited('coins', addOptionalField) });
    expect(breakingChanges(reports)).toEqual([]);
    const added = reports.flatMap((r) => r.changes.map((c) => [r.name, c.level, c.type, c.path]));
    expect(added).toEqual([
      ['coins', 'NON_BREAKING', 'FIELD_ADDED', 'Coin.launchYear'],
      ['coins', 'NON_BREAKING', 'FIELD_DESCRIPTION_ADDED', 'Coin.launchYear'],
      ['supergraph', 'NON_BREAKING', 'FIELD_ADDED', 'Coin.launchYear'],
      ['supergraph', 'NON_BREAKING', 'FIELD_DESCRIPTION_ADDED', 'Coin.launchYear'],
    ]);
  });

  it('reports a removed field as breaking, naming it', async () => {
    const reports = await checkSchemas({ base: current, head: edited('coins', removeHomepage) });
    expect(breakingChanges(reports).map((c) => [c.schema, c.path, c.message])).toEqual([
      ['coins', 'Coin.homepage', "Field 'homepage' was removed from object type 'Coin'"],
      ['supergraph', 'Coin.homepage', "Field 'homepage' was removed from object type 'Coin'"],
    ]);
    const text = formatReport(reports, { base: 'origin/main', allowBreaking: false });
    expect(text).toContain("BREAKING     Field 'homepage' was removed from object type 'Coin' (Coin.homepage)");
    expect(text).toContain('2 breaking change(s): coins: Coin.homepage, supergraph: Coin.homepage.');
    expect(text).toContain(`add the label ${APPROVAL_LABEL}`);
    expect(formatReport(reports, { base: 'origin/main', allowBreaking: true })).toContain(
      `2 breaking change(s), allowed by --allow-breaking (label ${APPROVAL_LABEL})`,
    );
  });

  it('reports a changed field type as breaking', async () => {
    const reports = await checkSchemas({ base: current, head: edited('coins', rankAsString) });
    expect(breakingChanges(reports).map((c) => [c.schema, c.path, c.message])).toEqual([
      ['coins', 'Coin.marketCapRank', "Field 'Coin.marketCapRank' changed type from 'Int' to 'String'"],
      ['supergraph', 'Coin.marketCapRank', "Field 'Coin.marketCapRank' changed type from 'Int' to 'String'"],
    ]);
  });

  it('treats a subgraph missing at the base as new, not breaking', async () => {
    const base: SdlSource = (name) => (name === 'prices' ? undefined : current(name));
    const reports = await checkSchemas({ base, head: current });
    expect(reports.map((r) => [r.name, r.status])).toEqual([
      ['coins', 'compared'],
      ['prices', 'new'],
      ['supergraph', 'new'],
    ]);
    expect(breakingChanges(reports)).toEqual([]);
  });

  it('refuses a head schema that does not compose', async () => {
    const broken = edited('prices', (sdl) => sdl.replace('type PageInfo @shareable {', 'type PageInfo {'));
    await expect(checkSchemas({ base: current, head: broken })).rejects.toThrow(/PageInfo/);
  });
});

describe('npm run schema:check against a git repository', () => {
  let repo: string;
  const git = (...args: string[]) => {
    const result = spawnSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], {
      cwd: repo,
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  };
  const run = async (...args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await main(
      args,
      (text) => (stdout += text),
      (text) => (stderr += text),
    );
    return { code, stdout, stderr };
  };

  beforeAll(() => {
    repo = mkdtempSync(path.join(tmpdir(), 'schema-check-'));
    cpSync(path.join(repoRoot, 'schema'), path.join(repo, 'schema'), { recursive: true });
    git('init', '-q');
    git('add', 'schema');
    git('commit', '-q', '-m', 'base');
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('exits 0 when nothing changed', async () => {
    const { code, stdout } = await run('--root', repo, '--base', 'HEAD');
    expect(stdout).toContain('coins (schema/coins.graphql): no changes since HEAD');
    expect(stdout).toContain('no breaking change');
    expect(code).toBe(0);
  });

  it('exits 1 on a removed field, naming it, and 0 with --allow-breaking', async () => {
    const file = path.join(repo, 'schema/coins.graphql');
    writeFileSync(file, removeHomepage(readFileSync(file, 'utf8')));
    // The real command line, as CI runs it.
    const cli = spawnSync('npm', ['run', '--silent', 'schema:check', '--', '--base', 'HEAD', '--root', repo], { cwd: repoRoot, encoding: 'utf8' });
    expect(cli.stdout).toContain("BREAKING     Field 'homepage' was removed from object type 'Coin' (Coin.homepage)");
    expect(cli.stdout).toContain('2 breaking change(s): coins: Coin.homepage, supergraph: Coin.homepage.');
    expect(cli.status).toBe(1);
    const allowed = await run('--root', repo, '--base', 'HEAD', '--allow-breaking');
    expect(allowed.stdout).toContain('allowed by --allow-breaking');
    expect(allowed.code).toBe(0);
  });

  it('treats a schema file the base does not have as new', async () => {
    git('rm', '-q', '--cached', 'schema/prices.graphql');
    git('commit', '-q', '-m', 'without prices');
    git('checkout', '-q', '--', 'schema/coins.graphql');
    const { code, stdout } = await run('--root', repo, '--base', 'HEAD');
    expect(stdout).toContain('prices (schema/prices.graphql): new, not in HEAD');
    expect(stdout).toContain('supergraph (API schema composed from schema/): new, not in HEAD');
    expect(code).toBe(0);
  });

  it('exits 2 when the base ref does not exist', async () => {
    const { code, stderr } = await run('--root', repo, '--base', 'no-such-branch');
    expect(stderr).toContain('unknown git ref no-such-branch');
    expect(code).toBe(2);
  });
});
