import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSdl, readSubgraphManifest, SCHEMA_DIR, subgraph, subgraphs } from '../src/index.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-manifest-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const entry = (name: string, port: number) => `
  ${name}:
    schema: { file: ${name}.graphql }
    routing_url: { default: 'http://127.0.0.1:${port}/graphql', variable: ${name.toUpperCase()}_URL }
    port: { default: ${port}, variable: ${name.toUpperCase()}_PORT }
    service: { main: subgraphs/${name}/src/main.ts, module: subgraphs/${name}/src/index.ts }
    codegen: { mappers: {} }`;

function manifest(text: string): string {
  const file = path.join(scratch, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe('the subgraph manifest (schema/subgraphs.yaml)', () => {
  it('lists the repository subgraphs in order, with their SDL beside it', () => {
    expect(subgraphs().map((s) => [s.name, path.relative(SCHEMA_DIR, s.sdlPath), s.port.variable, s.port.default, s.url.variable, s.url.default])).toEqual([
      ['coins', 'coins.graphql', 'COINS_PORT', 4001, 'COINS_URL', 'http://127.0.0.1:4001/graphql'],
      ['prices', 'prices.graphql', 'PRICES_PORT', 4002, 'PRICES_URL', 'http://127.0.0.1:4002/graphql'],
    ]);
    expect(readSdl(subgraph('coins'))).toContain('type Coin @key(fields: "id")');
    expect(() => subgraph('news')).toThrow(/^no subgraph news in .*schema\/subgraphs\.yaml$/);
  });

  it('reads a manifest of its own, SDL paths relative to it', () => {
    const file = manifest(`subgraphs:${entry('alpha', 5001)}${entry('beta', 5002)}`);
    expect(readSubgraphManifest(file).map((s) => [s.name, s.sdlPath, s.main])).toEqual([
      ['alpha', path.join(scratch, 'alpha.graphql'), 'subgraphs/alpha/src/main.ts'],
      ['beta', path.join(scratch, 'beta.graphql'), 'subgraphs/beta/src/main.ts'],
    ]);
  });

  it('refuses a manifest with a shared variable, port or SDL file, naming the entry and the owner', () => {
    const file = manifest(`subgraphs:${entry('alpha', 5001)}${entry('beta', 5001).replace('BETA_URL', 'ALPHA_URL').replace('beta.graphql', 'alpha.graphql')}`);
    expect(() => readSubgraphManifest(file)).toThrow(
      [
        `invalid subgraph manifest ${file}:`,
        "✖ ALPHA_URL is already alpha's",
        '  → at subgraphs.beta.routing_url.variable',
        "✖ 5001 is already alpha's",
        '  → at subgraphs.beta.port.default',
        "✖ alpha.graphql is already alpha's",
        '  → at subgraphs.beta.schema.file',
      ].join('\n'),
    );
  });

  it('refuses unknown keys, bad names and values, and an empty roster', () => {
    const bad = manifest(
      `subgraphs:${entry('alpha', 5001)
        .replace('ALPHA_PORT', 'alpha-port')
        .replace('http://127.0.0.1:5001/graphql', 'ftp://x')
        .replace('alpha.graphql', '../alpha.graphql')
        .replace('codegen:', 'colour: red\n    codegen:')}`,
    );
    expect(() => readSubgraphManifest(bad)).toThrow(
      [
        `invalid subgraph manifest ${bad}:`,
        '✖ Unrecognized key: "colour"',
        '  → at subgraphs.alpha',
        '✖ must be an SDL file beside the manifest, such as coins.graphql',
        '  → at subgraphs.alpha.schema.file',
        '✖ must be an http(s) URL',
        '  → at subgraphs.alpha.routing_url.default',
        '✖ must be an environment variable name such as COINS_PORT',
        '  → at subgraphs.alpha.port.variable',
      ].join('\n'),
    );
    expect(() => readSubgraphManifest(manifest('subgraphs: {}'))).toThrow(/must list at least one subgraph/);
    expect(() => readSubgraphManifest(manifest(`subgraphs:${entry('Alpha', 5001)}`))).toThrow(/must be a lower-case name such as coins/);
    expect(() => readSubgraphManifest(manifest(`subgraphs:${entry('gateway', 5001)}`))).toThrow(
      "✖ is the gateway's name: pick another\n  → at subgraphs.gateway",
    );
  });
});
