/**
 * Adding a subgraph is a folder, an SDL file and one manifest entry: schema/
 * as it would be after adding a throwaway `news` subgraph (its SDL beside the
 * others, its entry in subgraphs.yaml, both from fixtures/third-subgraph)
 * composes, and the gateway's configuration takes its URL variable, with no
 * code changed.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig, readSubgraphManifest, SCHEMA_DIR, SUBGRAPH_MANIFEST_PATH } from '@cryptoagg/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeSupergraph, resolvingSubgraph } from '../src/compose.js';
import { gatewayConfigSchemaFor } from '../src/config.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'third-subgraph');

let scratch: string;
let manifest: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-third-subgraph-'));
  cpSync(SCHEMA_DIR, scratch, { recursive: true });
  cpSync(path.join(FIXTURE, 'news.graphql'), path.join(scratch, 'news.graphql'));
  // The entry goes under `subgraphs:`, the manifest's last key, as someone would paste it there.
  const entry = readFileSync(path.join(FIXTURE, 'entry.yaml'), 'utf8').replace(/^(?=.)/gm, '  ');
  manifest = path.join(scratch, 'subgraphs.yaml');
  writeFileSync(manifest, `${readFileSync(SUBGRAPH_MANIFEST_PATH, 'utf8').trimEnd()}\n${entry}`);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('a third subgraph from one manifest entry and its SDL', () => {
  it('is read from the manifest after the others, its SDL beside the manifest', () => {
    const roster = readSubgraphManifest(manifest);
    expect(roster.map((s) => s.name)).toEqual(['coins', 'prices', 'news']);
    expect(roster[2]).toEqual({
      name: 'news',
      sdlPath: path.join(scratch, 'news.graphql'),
      url: { default: 'http://127.0.0.1:4003/graphql', variable: 'NEWS_URL' },
      port: { default: 4003, variable: 'NEWS_PORT' },
      main: 'subgraphs/news/src/main.ts',
      module: 'subgraphs/news/src/index.ts',
      mappers: { Article: '../models.js#ArticleModel' },
    });
  });

  it('composes with the others: the supergraph has its type, routes its field to it and names its URL', () => {
    expect(composeSupergraph().apiSchema.getType('Article')).toBeUndefined();
    const { supergraphSdl, apiSchema } = composeSupergraph(undefined, { subgraphs: readSubgraphManifest(manifest) });
    expect(apiSchema.getType('Article')?.name).toBe('Article');
    expect(Object.keys(apiSchema.getTypeMap()).filter((name) => name === 'Coin' || name === 'Article')).toEqual(['Coin', 'Article']);
    expect(resolvingSubgraph(supergraphSdl, 'Coin', 'news')).toBe('news');
    expect(resolvingSubgraph(supergraphSdl, 'Query', 'fetchStatus')).toBe('prices');
    expect(supergraphSdl).toContain('NEWS @join__graph(name: "news", url: "http://127.0.0.1:4003/graphql")');
  });

  it("the gateway's configuration takes its URL variable, defaults to its routing URL and names the variable when it is wrong", () => {
    const schema = gatewayConfigSchemaFor(readSubgraphManifest(manifest));
    const urls = (env: Record<string, string>) => {
      const result = parseConfig(schema, env);
      return result.ok ? [...result.config.subgraphUrls] : result.errors;
    };
    expect(urls({ NEWS_URL: 'http://news:4003/graphql' })).toEqual([
      ['coins', 'http://127.0.0.1:4001/graphql'],
      ['prices', 'http://127.0.0.1:4002/graphql'],
      ['news', 'http://news:4003/graphql'],
    ]);
    expect(urls({})).toContainEqual(['news', 'http://127.0.0.1:4003/graphql']);
    expect(urls({ NEWS_URL: 'news:4003' })).toEqual(['invalid configuration: NEWS_URL: must be a URL like http://127.0.0.1:4003/graphql']);
  });
});
