/**
 * The worst-case size the gateway refuses documents by (gateway/src/limits.ts), computed from the
 * schema's @listSize / @cost: against a brute-force expansion on random documents, on the hostile
 * documents of issue 12, on a list field that exists only in this file, and on the contract operations.
 */
import { readFileSync } from 'node:fs';
import { readContractOperations, readSdl, subgraph, SUPERGRAPH_PATH } from '@cryptoagg/core';
import fc from 'fast-check';
import { Kind, parse, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from '../src/compose.js';
import { createCostModel, MAX_ITEMS, worstCaseItems, type CostModel } from '../src/limits.js';

const DIRECTIVES = `
  directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
  directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
`;

/** A small schema with every sizing the gateway knows: a connection, an assumed size, a sliced list, a weight. */
const TEST_SDL = `${DIRECTIVES}
  type Query {
    things(first: Int = 100): ThingConnection! @listSize(slicingArguments: ["first"], sizedFields: ["edges"], requireOneSlicingArgument: false)
    thing: Thing
  }
  type ThingConnection { total: Int! edges: [ThingEdge!]! }
  type ThingEdge { cursor: String! node: Thing! }
  type Thing {
    id: ID!
    tags: [String!]!
    points: [Point!]! @listSize(assumedSize: 50)
    children(first: Int = 3): [Thing!]! @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false)
    heavy: Point @cost(weight: 7)
  }
  type Point { t: Int! }
`;

const cost = (model: CostModel, query: string, variables: Record<string, unknown> = {}, operationName?: string) =>
  worstCaseItems(model, parse(query), operationName, variables);

/**
 * The reference: every spread expanded where it stands, no memo, sizes read off TEST_SDL by hand,
 * and `first` coerced by the rules of the contract (section 7) rather than by graphql-js.
 */
function bruteForce(document: DocumentNode, variables: Record<string, unknown>): number {
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const isInt = (v: unknown): v is number => Number.isInteger(v) && Math.abs(v as number) <= 2 ** 31 - 1;
  const first = (field: FieldNode, fallback: number): number => {
    const value = field.arguments?.find((a) => a.name.value === 'first')?.value;
    if (!value || value.kind === Kind.NULL) return fallback;
    if (value.kind === Kind.INT) return Math.max(1, Number(value.value));
    if (value.kind !== Kind.VARIABLE) throw new Error(`unexpected ${value.kind}`);
    const name = value.name.value;
    if (Object.hasOwn(variables, name)) {
      const given = variables[name];
      return isInt(given) ? Math.max(1, given) : fallback; // null or invalid: the argument's default
    }
    const byDefault = operation.variableDefinitions?.find((d) => d.variable.name.value === name)?.defaultValue;
    return byDefault?.kind === Kind.INT ? Math.max(1, Number(byDefault.value)) : fallback;
  };
  const walk = (set: SelectionSetNode | undefined, type: string, parents: number, edges: number): number => {
    let total = 0;
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.INLINE_FRAGMENT) total += walk(selection.selectionSet, selection.typeCondition?.name.value ?? type, parents, edges);
      else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value)!;
        total += walk(fragment.selectionSet, fragment.typeCondition.name.value, parents, edges);
      } else {
        const field = `${type}.${selection.name.value}`;
        if (field === 'Query.things') total += walk(selection.selectionSet, 'ThingConnection', parents, first(selection, 100));
        else if (field === 'Query.thing') total += walk(selection.selectionSet, 'Thing', parents, 1);
        else if (field === 'ThingConnection.edges') total += parents * edges + walk(selection.selectionSet, 'ThingEdge', parents * edges, 1);
        else if (field === 'ThingEdge.node') total += walk(selection.selectionSet, 'Thing', parents, 1);
        else if (field === 'Thing.tags') total += parents;
        else if (field === 'Thing.points') total += parents * 50;
        else if (field === 'Thing.heavy') total += parents * 7;
        else if (field === 'Thing.children') {
          const children = parents * first(selection, 3);
          total += children + walk(selection.selectionSet, 'Thing', children, 1);
        }
      }
    }
    return total;
  };
  return walk(operation.selectionSet, 'Query', 1, 1);
}

/** A random small document over TEST_SDL: fragments spreading later fragments, aliases, directives, variables. */
function randomCase(g: fc.GeneratorValue): { query: string; variables: Record<string, unknown> } {
  const pick = <T>(...values: T[]): T => g(fc.constantFrom<T[]>, ...values);
  const int = (min: number, max: number) => g(fc.integer, { min, max });
  let aliases = 0;

  const variableNames: string[] = [];
  const definitions: string[] = [];
  const variables: Record<string, unknown> = {};
  for (let i = int(0, 3); i > 0; i--) {
    const name = `v${i}`;
    variableNames.push(name);
    const fallback = pick('none', 'int', 'null');
    definitions.push(`$${name}: Int${fallback === 'int' ? ` = ${int(-2, 300)}` : fallback === 'null' ? ' = null' : ''}`);
    const given = pick('omitted', 'int', 'null', 'invalid');
    if (given === 'int') variables[name] = int(-2, 300);
    else if (given === 'null') variables[name] = null;
    else if (given === 'invalid') variables[name] = pick<unknown>('12', 1.5, 2 ** 40, true, [3]);
  }
  const firstArgument = () => {
    const kind = pick('omitted', 'literal', 'null', ...(variableNames.length > 0 ? ['variable', 'variable'] : []));
    if (kind === 'literal') return `(first: ${int(-2, 300)})`;
    if (kind === 'null') return '(first: null)';
    if (kind === 'variable') return `(first: $${pick(...variableNames)})`;
    return '';
  };
  const field = (name: string) => `${g(fc.boolean) ? `a${++aliases}: ` : ''}${name}`;
  const directive = () => pick('', '', ' @skip(if: true)', ' @include(if: false)', ' @include(if: true)');

  type Fragment = { name: string; type: 'Thing' | 'ThingConnection' };
  const selections = (type: 'Query' | 'Thing' | 'ThingConnection', depth: number, spreadable: Fragment[]): string => {
    const spreads = spreadable.filter((f) => f.type === type);
    const parts: string[] = [];
    for (let n = int(1, 3); n > 0; n--) {
      const options =
        type === 'Query'
          ? ['things', 'thing']
          : type === 'ThingConnection'
            ? ['total', 'edges', 'inline', ...(spreads.length > 0 ? ['spread', 'spread'] : [])]
            : ['id', 'tags', 'points', 'heavy', 'inline', ...(depth > 0 ? ['children'] : []), ...(spreads.length > 0 ? ['spread', 'spread'] : [])];
      const choice = pick(...options);
      const nested = (inner: 'Thing' | 'ThingConnection') => (depth > 0 ? selections(inner, depth - 1, spreadable) : '__typename');
      if (choice === 'things') parts.push(`${field('things')}${firstArgument()}${directive()} { ${nested('ThingConnection')} }`);
      else if (choice === 'thing') parts.push(`${field('thing')}${directive()} { ${nested('Thing')} }`);
      else if (choice === 'edges') parts.push(`${field('edges')}${directive()} { cursor node { ${nested('Thing')} } }`);
      else if (choice === 'children') parts.push(`${field('children')}${firstArgument()}${directive()} { ${nested('Thing')} }`);
      else if (choice === 'points' || choice === 'heavy') parts.push(`${field(choice)}${directive()} { t }`);
      else if (choice === 'inline') parts.push(`...${pick(` on ${type}`, '')}${directive()} { ${selections(type, depth, spreadable)} }`);
      else if (choice === 'spread') parts.push(`...${pick(...spreads).name}${directive()}`);
      else parts.push(`${field(choice)}${directive()}`);
    }
    return parts.join(' ');
  };

  const fragments: Fragment[] = Array.from({ length: int(0, 4) }, (_, i) => ({ name: `F${i}`, type: pick('Thing', 'ThingConnection') }));
  // A fragment spreads only later ones: no cycles, and a chain can spread the next one several times.
  const bodies = fragments.map((f, i) => `fragment ${f.name} on ${f.type} { ${selections(f.type, 1, fragments.slice(i + 1))} }`);
  const operation = `query${definitions.length > 0 ? `(${definitions.join(', ')})` : ''} { ${selections('Query', 2, fragments)} }`;
  return { query: [operation, ...bodies].join('\n'), variables };
}

describe('worst-case size', () => {
  const model = createCostModel(TEST_SDL);

  it('equals a brute-force expansion of every spread on random documents', () => {
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const { query, variables } = randomCase(g);
        expect(cost(model, query, variables), query).toBe(bruteForce(parse(query), variables));
      }),
      { numRuns: 400, interruptAfterTimeLimit: 10_000 },
    );
  });

  it('sizes `first` as execution coerces it: null, omitted and invalid mean the default, nothing counts below 1', () => {
    const query = 'query($n: Int = 0) { things(first: $n) { edges { cursor } } }';
    expect(cost(model, query, { n: null })).toBe(100);
    expect(cost(model, query, {})).toBe(1);
    expect(cost(model, query, { n: 'many' })).toBe(100);
    expect(cost(model, query, { n: 2 ** 40 })).toBe(100);
    expect(cost(model, query, { n: 7 })).toBe(7);
    expect(cost(model, '{ things(first: -5) { edges { cursor } } }')).toBe(1);
    expect(cost(model, '{ things { edges { node { children { id } } } } }')).toBe(100 + 300);
    expect(cost(model, '{ thing { points { t } heavy { t } tags } }')).toBe(50 + 7 + 1);
  });

  it('counts @skip/@include as present and costs a fragment at each of its spreads', () => {
    expect(cost(model, '{ things(first: 2) { edges @skip(if: true) { cursor } ...E ...E } } fragment E on ThingConnection { edges { cursor } }')).toBe(6);
  });
});

describe('the hostile documents of issue 12, against the supergraph', () => {
  const model = createCostModel(readFileSync(SUPERGRAPH_PATH, 'utf8'));
  const history = 'history(from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z") { time }';

  it('costs a ~1 KB document of fragments that spread each other twice, 30 levels, in milliseconds', () => {
    const fragments = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Coin { id ...F${i + 1} ...F${i + 1} }`).join('\n');
    const query = `{ markets { edges { node { ...F0 } } } }\n${fragments}\nfragment F30 on Coin { categories }`;
    expect(query.length).toBeLessThan(1_500);
    const started = performance.now();
    expect(cost(model, query)).toBe(100 + 100 * 2 ** 30);
    expect(performance.now() - started).toBeLessThan(250);
  });

  it('counts markets(first: $n) with $n: Int = 0 and n = null at the 100 the resolver runs', () => {
    const histories = Array.from({ length: 30 }, (_, i) => `h${i}: ${history}`).join(' ');
    const query = `query($n: Int = 0) { markets(first: $n) { edges { node { ${histories} } } } }`;
    expect(cost(model, query, { n: null })).toBe(100 + 100 * 30 * 10_000);
    expect(cost(model, query, {})).toBe(1 + 30 * 10_000);
  });

  it('describes the sizing rules from the directives for refusal messages', () => {
    expect(model.rules).toBe('each list counts at its first, every other list at its declared maximum size');
  });
});

describe('a list field that exists only in a test SDL', () => {
  it('is costed by its own @listSize and @cost, composed like the real subgraphs', () => {
    const prices = readSdl(subgraph('prices'));
    const withTrades = `${prices}
      "One trade."
      type Trade { "Its price." price: Float! }
      extend type Coin {
        "Recent trades."
        trades("How many." last: Int = 20): [Trade!]! @listSize(slicingArguments: ["last"], requireOneSlicingArgument: false) @cost(weight: 3)
        "The order book."
        book: [Trade!]! @listSize(assumedSize: 400)
      }`;
    const { supergraphSdl } = composeSupergraph((name) => (name === 'prices' ? withTrades : readSdl(subgraph(name))));
    expect(supergraphSdl).toMatch(
      /trades\(.*\): \[Trade!\]! @join__field\(graph: PRICES\) @listSize\(slicingArguments: \["last"\], requireOneSlicingArgument: false\) @cost\(weight: 3\)/s,
    );
    const model = createCostModel(supergraphSdl);
    expect(cost(model, '{ coin(id: "bitcoin") { trades { price } } }')).toBe(20 * 3);
    expect(cost(model, 'query($k: Int) { coin(id: "bitcoin") { trades(last: $k) { price } } }', { k: 5 })).toBe(15);
    expect(cost(model, '{ markets(first: 10) { edges { node { book { price } } } } }')).toBe(10 + 10 * 400);
    expect(model.rules).toBe('each list counts at its first or last, every other list at its declared maximum size');
  });
});

describe('the contract operations', () => {
  const model = createCostModel(readFileSync(SUPERGRAPH_PATH, 'utf8'));
  const operations = readContractOperations();
  const HISTORY = { id: 'bitcoin', currency: 'usd', from: '2025-02-01T00:00:00Z', to: '2025-02-10T00:00:00Z' };

  it.each([
    ['Markets', {}, 100],
    ['Markets', { currency: 'eur', first: 250 }, 250],
    ['Markets', { first: null }, 100],
    ['CoinDetail', { id: 'bitcoin', currency: 'usd' }, 1],
    ['CoinHistory', { ...HISTORY, interval: 'HOUR' }, 10_000],
    ['SearchCoins', { search: 'bit', first: 20 }, 20],
    ['FetchStatus', {}, 0],
  ])('%s %j counts %i items, within the limit', (operation, variables, items) => {
    expect(cost(model, operations, variables, operation)).toBe(items);
    expect(items).toBeLessThanOrEqual(MAX_ITEMS);
  });
});
