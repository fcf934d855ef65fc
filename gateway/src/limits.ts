import type { ApolloServerOptions, ApolloServerPlugin, BaseContext } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import {
  buildASTSchema,
  getArgumentValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  GraphQLError,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  parse,
  type ConstDirectiveNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export const MAX_DEPTH = 10;
/** The standard introspection query is 15 deep; the rest is room for clients that unwrap type references further. */
export const MAX_INTROSPECTION_DEPTH = 20;
const MAX_ALIASES = 100;
export const MAX_ITEMS = 100_000;
/** The contract operations, all five in one document as clients send them, are about 250 tokens. */
export const MAX_TOKENS = 5_000;
export const MAX_DIRECTIVES = 50;

/** graphql-armor throws by default (a 500 in Apollo Server); reported instead, it is a validation error (400). */
const reportError = (context: ValidationContext | null, error: GraphQLError) =>
  context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')));
const report = { propagateOnRejection: false, onReject: [reportError] };

/** Documents the contract's depth limit refused already: the introspection limit, counting the same levels, stays quiet. */
const tooDeep = new WeakSet<ValidationContext>();

const validationRules: ValidationRule[] = [
  // The limit of the contract, for everything but `__schema`, which graphql-armor skips by default:
  // counted, the standard introspection query (GraphiQL's, codegen's) is 15 deep.
  maxDepthRule({
    n: MAX_DEPTH,
    flattenFragments: true,
    propagateOnRejection: false,
    onReject: [
      (context, error) => {
        if (context) tooDeep.add(context);
        reportError(context, error);
      },
    ],
  }),
  // So introspection gets a depth limit of its own. What fans out in it (`fields` in `type` in
  // `fields` ...) graphql-js's MaxIntrospectionDepthRule, one of its specified rules, refuses already.
  maxDepthRule({
    n: MAX_INTROSPECTION_DEPTH,
    flattenFragments: true,
    ignoreIntrospection: false,
    propagateOnRejection: false,
    onReject: [
      (context, error) => {
        if (!context || !tooDeep.has(context)) reportError(context, error);
      },
    ],
  }),
  maxAliasesRule({ n: MAX_ALIASES, ...report }),
  maxDirectivesRule({ n: MAX_DIRECTIVES, ...report }),
];

/** How a field's list size is declared with the demand-control directives (`@listSize`, `@cost`). */
interface FieldCost {
  /** arguments whose value is the list's size (`first`); the largest counts */
  slicingArguments: readonly string[];
  /** child fields the slicing size applies to (a connection's `edges`), instead of the field itself */
  sizedFields: readonly string[];
  assumedSize: number | undefined;
  /** what one instance (one element of a list) counts; `@cost(weight:)`, else 1 for a list and 0 for anything else */
  weight: number;
}

/** The supergraph as the cost walk sees it: the schema (field definitions, argument defaults) and each field's sizing. */
export interface CostModel {
  schema: GraphQLSchema;
  field(field: GraphQLField<unknown, unknown>): FieldCost;
  /** how lists are counted, for refusal messages: "each list counts at its first, every other list at its declared maximum size" */
  rules: string;
}

const COST_SPEC = /^https:\/\/specs\.apollo\.dev\/cost\/v\d/;

/**
 * The names the demand-control directives carry in this SDL. A supergraph links the cost spec
 * (`@link(url: ".../cost/v0.1", import: ["@listSize"])`), which may rename them; SDL without that
 * link (a subgraph's, a test's) uses the plain names.
 */
function costDirectiveNames(document: DocumentNode): { cost: string; listSize: string } {
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const link of definition.directives ?? []) {
      const args = new Map((link.arguments ?? []).map((a) => [a.name.value, a.value]));
      const url = args.get('url');
      if (link.name.value !== 'link' || url?.kind !== Kind.STRING || !COST_SPEC.test(url.value)) continue;
      const as = args.get('as');
      const prefix = as?.kind === Kind.STRING ? as.value : 'cost';
      let listSize = `${prefix}__listSize`;
      const imports = args.get('import');
      for (const item of imports?.kind === Kind.LIST ? imports.values : []) {
        if (item.kind === Kind.STRING && item.value === '@listSize') listSize = 'listSize';
        if (item.kind === Kind.OBJECT) {
          const fields = new Map(item.fields.map((f) => [f.name.value, f.value]));
          const name = fields.get('name');
          const alias = fields.get('as');
          if (name?.kind === Kind.STRING && name.value === '@listSize') listSize = alias?.kind === Kind.STRING ? alias.value.replace(/^@/, '') : 'listSize';
        }
      }
      return { cost: prefix, listSize };
    }
  }
  return { cost: 'cost', listSize: 'listSize' };
}

const stringList = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** "HistoryPoint" -> "points": what a list of that type holds, for the refusal message. */

/**
 * Reads `@listSize` and `@cost` from (super)graph SDL. The gateway has the composed supergraph:
 * Federation 2.9 composes the directives into it, and @apollo/gateway itself ignores them.
 */
export function createCostModel(sdl: string): CostModel {
  const document = parse(sdl);
  const schema = buildASTSchema(document, { assumeValidSDL: true });
  const names = costDirectiveNames(document);
  const listSizeDirective = schema.getDirective(names.listSize);
  const costDirective = schema.getDirective(names.cost);
  const directiveArgs = (nodes: readonly ConstDirectiveNode[] | undefined, name: string): Record<string, unknown> | undefined => {
    const definition = name === names.listSize ? listSizeDirective : costDirective;
    const node = nodes?.find((d) => d.name.value === name);
    return definition && node ? getArgumentValues(definition, node) : undefined;
  };
  const typeWeight = (type: GraphQLNamedType): number | undefined => {
    const weight = directiveArgs(type.astNode?.directives, names.cost)?.weight;
    return typeof weight === 'number' ? weight : undefined;
  };

  const fields = new Map<GraphQLField<unknown, unknown>, FieldCost>();
  const slicing = new Set<string>();
  let declared = false;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const listSize = directiveArgs(field.astNode?.directives, names.listSize);
      const weight = directiveArgs(field.astNode?.directives, names.cost)?.weight;
      const cost: FieldCost = {
        slicingArguments: stringList(listSize?.slicingArguments),
        sizedFields: stringList(listSize?.sizedFields),
        assumedSize: typeof listSize?.assumedSize === 'number' ? listSize.assumedSize : undefined,
        weight: typeof weight === 'number' ? weight : (typeWeight(getNamedType(field.type)) ?? (isListType(getNullableType(field.type)) ? 1 : 0)),
      };
      fields.set(field, cost);
      for (const name of cost.slicingArguments) slicing.add(name);
      if (cost.slicingArguments.length === 0 && cost.assumedSize !== undefined) {
        declared = true;
      }
    }
  }
  const plain: FieldCost = { slicingArguments: [], sizedFields: [], assumedSize: undefined, weight: 0 };
  // Generic on purpose: a message that listed every sized field would change with each new list in the schema.
  const rules = [
    ...(slicing.size > 0 ? [`each list counts at its ${[...slicing].sort().join(' or ')}`] : []),
    ...(declared ? ['every other list at its declared maximum size'] : []),
  ].join(', ');
  return { schema, field: (field) => fields.get(field) ?? plain, rules };
}

/**
 * Variables as execution will see them. Each is coerced on its own, so that one invalid value
 * (which execution refuses anyway) leaves the others exact; it counts as null, which sizes a list
 * at its argument's default.
 */
function coerceVariables(schema: GraphQLSchema, operation: OperationDefinitionNode, inputs: Record<string, unknown>): Record<string, unknown> {
  const coerced: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const result = getVariableValues(schema, [definition], Object.hasOwn(inputs, name) ? { [name]: inputs[name] } : {}, { maxErrors: 1 });
    if (result.errors) coerced[name] = null;
    else if (Object.hasOwn(result.coerced, name)) coerced[name] = result.coerced[name];
  }
  return coerced;
}

/** `size` elements of the list each cost `perSize`, on top of `fixed`: a selection set's cost for one parent. */
interface Cost {
  fixed: number;
  perSize: number;
}

/**
 * The most items an operation can return, counted from the schema's `@listSize`: a list at its
 * slicing argument (`first`) as execution coerces it, where null, omitted or invalid means the
 * argument's default and nothing counts below 1, or at its assumed size; a connection's size applied
 * to its `edges`; children multiplied by their list's size. `@skip`/`@include` count as present.
 *
 * Linear in the document: each fragment is costed once per sizing context (no spread is expanded)
 * and scaled by where it is spread, since a selection's cost is linear in its parent's size.
 */
export function worstCaseItems(model: CostModel, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>): number {
  const { schema } = model;
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    else if (def.kind === Kind.OPERATION_DEFINITION && (!operationName || def.name?.value === operationName)) operation ??= def;
  }
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return 0;
  const values = coerceVariables(schema, operation, variables);

  const listSize = (field: GraphQLField<unknown, unknown>, cost: FieldCost, node: FieldNode): number => {
    let size: number | undefined;
    if (cost.slicingArguments.length > 0) {
      let args: Record<string, unknown> = {};
      try {
        args = getArgumentValues(field, node, values);
      } catch {
        // An argument execution refuses: sized at the defaults, the request fails anyway.
      }
      for (const name of cost.slicingArguments) {
        const given = args[name];
        const value = typeof given === 'number' ? given : field.args.find((a) => a.name === name)?.defaultValue;
        if (typeof value === 'number' && Number.isFinite(value)) size = Math.max(size ?? value, value);
      }
    }
    return Math.max(1, size ?? cost.assumedSize ?? 1);
  };

  /** A field's cost per instance: its own weight and its children's, its sizing applied to them. */
  const instanceCost = (field: GraphQLField<unknown, unknown>, cost: FieldCost, node: FieldNode): number => {
    if (!node.selectionSet) return cost.weight;
    const sized = cost.sizedFields.length > 0 ? cost.sizedFields : undefined;
    const children = selectionCost(node.selectionSet, getNamedType(field.type), sized);
    return cost.weight + children.fixed + (sized ? listSize(field, cost, node) * children.perSize : 0);
  };

  const memo = new Map<string, Cost>();
  const fragmentCost = (name: string, sized: readonly string[] | undefined): Cost => {
    const key = `${name}\u0000${sized?.join('\u0000') ?? ''}`;
    const known = memo.get(key);
    if (known) return known;
    // Fragment cycles are a validation error; in the meantime a cycle adds nothing.
    memo.set(key, { fixed: 0, perSize: 0 });
    const fragment = fragments.get(name);
    const type = fragment && schema.getType(fragment.typeCondition.name.value);
    const cost = fragment && type ? selectionCost(fragment.selectionSet, type, sized) : { fixed: 0, perSize: 0 };
    memo.set(key, cost);
    return cost;
  };

  function selectionCost(set: SelectionSetNode, type: GraphQLNamedType, sized: readonly string[] | undefined): Cost {
    const total: Cost = { fixed: 0, perSize: 0 };
    const add = (part: Cost) => {
      total.fixed += part.fixed;
      total.perSize += part.perSize;
    };
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        // Introspection and __typename are not items of the API; the introspection rules bound them.
        const field = isObjectType(type) || isInterfaceType(type) ? type.getFields()[selection.name.value] : undefined;
        if (!field) continue;
        const cost = model.field(field);
        if (sized?.includes(field.name)) total.perSize += instanceCost(field, cost, selection);
        else if (cost.sizedFields.length > 0) total.fixed += instanceCost(field, cost, selection);
        else total.fixed += listSize(field, cost, selection) * instanceCost(field, cost, selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const narrowed = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        if (narrowed) add(selectionCost(selection.selectionSet, narrowed, sized));
      } else {
        add(fragmentCost(selection.name.value, sized));
      }
    }
    return total;
  }

  return selectionCost(operation.selectionSet, root, undefined).fixed;
}

const refusal = (message: string) => new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } });

/** Refuses, before any subgraph is asked, an operation whose worst-case answer exceeds MAX_ITEMS. */
function sizeLimitPlugin(model: CostModel): ApolloServerPlugin<BaseContext> {
  const rules = model.rules ? ` (${model.rules})` : '';
  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: ({ document, request }) => {
          const items = worstCaseItems(model, document, request.operationName, request.variables ?? {});
          if (items > MAX_ITEMS) {
            throw refusal(
              `query too large: it could return ${items.toLocaleString('en')} items, the limit is ${MAX_ITEMS.toLocaleString('en')}${rules}; ask for smaller pages`,
            );
          }
          return Promise.resolve();
        },
      }),
  };
}

/** Whether a document holds more than MAX_TOKENS tokens; lexes at most MAX_TOKENS + 1 of them. */
function overTokenLimit(source: string): boolean {
  const parser = new MaxTokensParserWLexer(source, { n: MAX_TOKENS });
  try {
    parser.parseDocument();
  } catch {
    // The limit or a syntax error: the count tells which.
  }
  return parser.tokenCount > MAX_TOKENS;
}

/**
 * Apollo Server has no parse hook to plug graphql-armor's token-counting parser into, and an error
 * thrown from a plugin before parsing is a 500. So graphql-js's own token cap stops the parse
 * (Apollo's parseOptions), and this answers it as the validation refusal it is, with armor's count.
 */
const tokenLimitPlugin: ApolloServerPlugin<BaseContext> = {
  requestDidStart: () =>
    Promise.resolve({
      willSendResponse: ({ source, errors, response }) => {
        const parseFailed = errors?.length === 1 && errors[0]?.extensions.code === 'GRAPHQL_PARSE_FAILED';
        if (parseFailed && source !== undefined && overTokenLimit(source)) {
          response.body = {
            kind: 'single',
            singleResult: { errors: [{ message: `Token limit of ${MAX_TOKENS} exceeded.`, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] },
          };
          response.http.status = 400;
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
const clientErrorStatusPlugin: ApolloServerPlugin<BaseContext> = {
  requestDidStart: () =>
    Promise.resolve({
      willSendResponse: ({ response, errors }) => {
        const invalid = (errors ?? []).some((e) => (e.extensions as Record<string, unknown> | undefined)?.code === 'INVALID_GRAPHQL');
        if (invalid && response.body.kind === 'single' && !response.body.singleResult.data) response.http.status = 400;
        return Promise.resolve();
      },
    }),
};

/**
 * Everything the gateway refuses before execution, for its ApolloServer: tokens (at parse),
 * depth, aliases and directives (validation), and the worst-case size from the supergraph's
 * `@listSize` (once the operation is known). Every refusal is HTTP 400 GRAPHQL_VALIDATION_FAILED.
 */
export function documentLimits(supergraphSdl: string): Required<Pick<ApolloServerOptions<BaseContext>, 'parseOptions' | 'validationRules' | 'plugins'>> {
  return {
    parseOptions: { maxLexicalTokens: MAX_TOKENS },
    validationRules,
    plugins: [sizeLimitPlugin(createCostModel(supergraphSdl)), tokenLimitPlugin, clientErrorStatusPlugin],
  };
}
