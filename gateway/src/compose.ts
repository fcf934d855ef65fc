import { composeServices } from '@apollo/composition';
import { readSdl, subgraphs as manifestSubgraphs, type Subgraph } from '@cryptoagg/core';
import { Kind, parse, type ConstDirectiveNode } from 'graphql';

export class CompositionError extends Error {
  override readonly name = 'CompositionError';
}

export interface ComposeOptions {
  /** the subgraphs to compose; default the manifest's (schema/subgraphs.yaml) */
  subgraphs?: readonly Subgraph[];
  /** routing URLs written into the supergraph, by subgraph name; default each one's manifest default (the gateway replaces them with its configured ones) */
  urls?: Readonly<Record<string, string>>;
}

/**
 * Composes the supergraph from the subgraphs' SDL (static composition: no
 * introspection at run time). `sdl` replaces a subgraph's SDL by name, for
 * checks of an edited or older schema.
 */
export function composeSupergraph(sdl?: (name: string) => string, options: ComposeOptions = {}) {
  const subgraphs = options.subgraphs ?? manifestSubgraphs();
  const result = composeServices(
    subgraphs.map((s) => ({ name: s.name, typeDefs: parse(sdl ? sdl(s.name) : readSdl(s)), url: options.urls?.[s.name] ?? s.url.default })),
  );
  if (result.errors) {
    throw new CompositionError(`composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  }
  return { supergraphSdl: result.supergraphSdl, apiSchema: result.schema.toAPISchema().toGraphQLJSSchema() };
}

const argument = (directive: ConstDirectiveNode, name: string) => {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.ENUM || value?.kind === Kind.STRING ? value.value : undefined;
};

/** The name of the subgraph that resolves `type.field` in a supergraph (its `@join__field(graph:)`), if exactly one does. */
export function resolvingSubgraph(supergraphSdl: string, type: string, field: string): string | undefined {
  const graphs = new Map<string, string>();
  const owners: string[] = [];
  for (const definition of parse(supergraphSdl, { noLocation: true }).definitions) {
    if (definition.kind === Kind.ENUM_TYPE_DEFINITION && definition.name.value === 'join__Graph') {
      for (const value of definition.values ?? []) {
        const join = value.directives?.find((d) => d.name.value === 'join__graph');
        const name = join && argument(join, 'name');
        if (name) graphs.set(value.name.value, name);
      }
    }
    if ((definition.kind === Kind.OBJECT_TYPE_DEFINITION || definition.kind === Kind.OBJECT_TYPE_EXTENSION) && definition.name.value === type) {
      const node = definition.fields?.find((f) => f.name.value === field);
      for (const join of node?.directives?.filter((d) => d.name.value === 'join__field') ?? []) {
        const graph = argument(join, 'graph');
        if (graph) owners.push(graph);
      }
    }
  }
  const [owner, ...others] = owners;
  return owner !== undefined && others.length === 0 ? graphs.get(owner) : undefined;
}
