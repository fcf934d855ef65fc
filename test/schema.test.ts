import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, SUPERGRAPH_PATH } from '@cryptoagg/core';
import { composeSupergraph, CompositionError } from '@cryptoagg/gateway';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../codegen.js';

const schemaFile = (name: string) => readFileSync(path.join(REPO_ROOT, 'schema', `${name}.graphql`), 'utf8');

describe('schema-first artefacts are up to date with schema/', () => {
  it('the generated resolver types match a fresh `npm run codegen`', async () => {
    // generate() is typed to return `any` besides FileOutput[]; with saveToFile=false it returns the outputs.
    const outputs = (await generate({ ...config, cwd: REPO_ROOT, silent: true }, false)) as { filename: string; content: string }[];
    expect(outputs.map((o) => path.relative(REPO_ROOT, path.resolve(REPO_ROOT, o.filename))).sort()).toEqual([
      'subgraphs/coins/src/__generated__/resolvers-types.ts',
      'subgraphs/prices/src/__generated__/resolvers-types.ts',
    ]);
    for (const output of outputs) {
      const committed = readFileSync(path.resolve(REPO_ROOT, output.filename), 'utf8');
      expect(committed, `${output.filename} is stale: run npm run codegen`).toBe(output.content);
    }
  });

  it('the committed supergraph is the composition of the subgraph SDL', () => {
    const { supergraphSdl, apiSchema } = composeSupergraph();
    expect(readFileSync(SUPERGRAPH_PATH, 'utf8'), 'gateway/supergraph.graphql is stale: run npm run compose').toBe(`${supergraphSdl}\n`);
    const query = apiSchema.getQueryType()?.getFields() ?? {};
    expect(Object.keys(query).sort()).toEqual(['coin', 'coins', 'fetchStatus', 'markets']);
  });

  it('composition fails loudly, naming the problem', () => {
    const broken = (name: string) => (name === 'prices' ? schemaFile('prices').replace('type PageInfo @shareable {', 'type PageInfo {') : schemaFile(name));
    expect(() => composeSupergraph(broken)).toThrow(CompositionError);
    expect(() => composeSupergraph(broken)).toThrow(/PageInfo\.hasNextPage.*(shareable|resolved by multiple)/s);
  });
});
