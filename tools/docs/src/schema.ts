import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/db';
import { composeSupergraph } from '@cryptoagg/gateway';
import { buildSchema, isIntrospectionType, printSchema, type GraphQLNamedType, type GraphQLSchema } from 'graphql';

/** The subgraph SDL files whose descriptions the docs are made of (the federation-directives file is plumbing). */
export const SUBGRAPH_SDL_FILES = ['coins', 'prices'].map((name) => path.join(REPO_ROOT, 'schema', `${name}.graphql`));

/** The contract's public operations, as pinned in the repository (test/contract checks the copy against the contract). */
export const OPERATIONS_PATH = path.join(REPO_ROOT, 'test', 'contract', 'operations.graphql');

export const readOperations = (): string => readFileSync(OPERATIONS_PATH, 'utf8');

/**
 * The client-facing schema: the composed supergraph's API schema, i.e. what
 * the gateway serves, without federation's `_entities`, `join__*` or `link__*`.
 */
export function apiSchema(): GraphQLSchema {
  // @apollo/composition builds it with the CommonJS graphql; where `import 'graphql'` loads the ES build (vitest),
  // graphql refuses objects of the other instance. So the schema crosses over as SDL, printed by its own instance.
  const { printSchema: printComposed } = createRequire(import.meta.url)('graphql') as { printSchema: (schema: GraphQLSchema) => string };
  return buildSchema(printComposed(composeSupergraph().apiSchema));
}

/** The API schema as SDL, descriptions included (the input of the HTML site). */
export const apiSdl = (schema: GraphQLSchema): string => printSchema(schema);

/** Every named type a client can meet, by name: sorted, so generated files do not depend on composition order. */
export function documentedTypes(schema: GraphQLSchema): GraphQLNamedType[] {
  return Object.values(schema.getTypeMap())
    .filter((type) => !isIntrospectionType(type))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
