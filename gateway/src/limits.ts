import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  GraphQLError,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from 'graphql';

export const MAX_DEPTH = 10;
export const MAX_ALIASES = 100;
export const MAX_ITEMS = 100_000;
/** What a list field can return at most, when it has no `first`: history's refusal threshold. */
const FIXED_LIST_SIZE: Record<string, number> = { history: 10_000 };
const DEFAULT_FIRST = 100;

/** graphql-armor throws by default (a 500 in Apollo Server); reported instead, it is a validation error (400). */
const report = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')))],
};

export const validationRules: ValidationRule[] = [
  maxDepthRule({ n: MAX_DEPTH, flattenFragments: true, ...report }),
  maxAliasesRule({ n: MAX_ALIASES, ...report }),
];

function argumentValue(node: ValueNode | undefined, variables: Record<string, unknown>): unknown {
  if (!node) return undefined;
  if (node.kind === Kind.VARIABLE) return variables[node.name.value];
  if (node.kind === Kind.INT) return Number(node.value);
  return undefined;
}

/**
 * The most items an operation can return: every list counted at its `first`
 * (100 when omitted) and a history at 10,000 points, multiplied down the tree.
 * Hand-written because the cost libraries weigh fields, not arguments: a list
 * whose size a client sets with `first` is exactly what they miss.
 */
export function worstCaseItems(document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const operation = document.definitions.find(
    (def) => def.kind === Kind.OPERATION_DEFINITION && (!operationName || def.name?.value === operationName),
  );
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return 0;
  const defaults: Record<string, unknown> = {};
  for (const v of operation.variableDefinitions ?? []) defaults[v.variable.name.value] = argumentValue(v.defaultValue, {});
  const values = { ...defaults, ...Object.fromEntries(Object.entries(variables).filter(([, v]) => v !== null && v !== undefined)) };

  const count = (set: SelectionSetNode, multiplier: number, seen: Set<string>): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const first = selection.arguments?.find((a) => a.name.value === 'first');
        const fixed = FIXED_LIST_SIZE[selection.name.value];
        let size = 1;
        if (first) {
          const value = argumentValue(first.value, values);
          size = typeof value === 'number' && Number.isFinite(value) ? Math.max(0, value) : DEFAULT_FIRST;
        } else if (fixed !== undefined) size = fixed;
        else if (selection.name.value === 'markets' || selection.name.value === 'coins') size = DEFAULT_FIRST;
        const inner = multiplier * size;
        if (size > 1) total += inner;
        if (selection.selectionSet) total += count(selection.selectionSet, inner, seen);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += count(selection.selectionSet, multiplier, seen);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !seen.has(fragment.name.value)) {
          total += count(fragment.selectionSet, multiplier, new Set([...seen, fragment.name.value]));
        }
      }
    }
    return total;
  };
  return count(operation.selectionSet, 1, new Set());
}

/** Refuses, before any subgraph is asked, an operation whose worst-case answer exceeds MAX_ITEMS. */
export const sizeLimitPlugin: ApolloServerPlugin<BaseContext> = {
  requestDidStart: () =>
    Promise.resolve({
      didResolveOperation: ({ document, request }) => {
        const items = worstCaseItems(document, request.operationName, request.variables ?? {});
        if (items > MAX_ITEMS) {
          throw new GraphQLError(
            `query too large: it could return ${items.toLocaleString('en')} items, the limit is ${MAX_ITEMS.toLocaleString('en')} (each list counts at its first, a history at 10,000 points); ask for smaller pages`,
            { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } },
          );
        }
        return Promise.resolve();
      },
    }),
};

/**
 * @apollo/gateway reports a document whose operation cannot be picked (several
 * operations and no operationName) as INVALID_GRAPHQL, which Apollo Server
 * answers with HTTP 500; it is the client's mistake, so answer 400.
 */
export const clientErrorStatusPlugin: ApolloServerPlugin<BaseContext> = {
  requestDidStart: () =>
    Promise.resolve({
      willSendResponse: ({ response, errors }) => {
        const invalid = (errors ?? []).some((e) => (e.extensions as Record<string, unknown> | undefined)?.code === 'INVALID_GRAPHQL');
        if (invalid && response.body.kind === 'single' && !response.body.singleResult.data) response.http.status = 400;
        return Promise.resolve();
      },
    }),
};
