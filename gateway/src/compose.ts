import { readFileSync } from 'node:fs';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { REPO_ROOT } from '@cryptoagg/db';
import { parse } from 'graphql';

export const SUBGRAPHS = ['coins', 'prices'] as const;
export const SUPERGRAPH_PATH = path.join(REPO_ROOT, 'gateway', 'supergraph.graphql');

/** The URLs written into the supergraph; the gateway replaces them with its configured ones. */
const DEFAULT_URLS: Record<(typeof SUBGRAPHS)[number], string> = {
  coins: 'http://127.0.0.1:4001/graphql',
  prices: 'http://127.0.0.1:4002/graphql',
};

export class CompositionError extends Error {
  override readonly name = 'CompositionError';
}

/** Composes the supergraph from the subgraph SDL in schema/ (static composition: no introspection at run time). */
export function composeSupergraph(sdl: (name: string) => string = (name) => readFileSync(path.join(REPO_ROOT, 'schema', `${name}.graphql`), 'utf8')) {
  const result = composeServices(SUBGRAPHS.map((name) => ({ name, typeDefs: parse(sdl(name)), url: DEFAULT_URLS[name] })));
  if (result.errors) {
    throw new CompositionError(`composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  }
  return { supergraphSdl: result.supergraphSdl, apiSchema: result.schema.toAPISchema().toGraphQLJSSchema() };
}
