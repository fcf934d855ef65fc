import { subgraphs } from '@cryptoagg/core';
import { composeSupergraph } from '@cryptoagg/gateway';
import { isIntrospectionType, printSchema, type GraphQLNamedType, type GraphQLSchema } from 'graphql';

/** The subgraph SDL files whose descriptions the docs are made of: the manifest's (the federation-directives file is plumbing). */
export const SUBGRAPH_SDL_FILES = subgraphs().map((s) => s.sdlPath);

/**
 * The client-facing schema: the composed supergraph's API schema, i.e. what
 * the gateway serves, without federation's `_entities`, `join__*` or `link__*`.
 */
export const apiSchema = (): GraphQLSchema => composeSupergraph().apiSchema;

/** The API schema as SDL, descriptions included (the input of the HTML site). */
export const apiSdl = (schema: GraphQLSchema): string => printSchema(schema);

/** Every named type a client can meet, by name: sorted, so generated files do not depend on composition order. */
export function documentedTypes(schema: GraphQLSchema): GraphQLNamedType[] {
  return Object.values(schema.getTypeMap())
    .filter((type) => !isIntrospectionType(type))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
