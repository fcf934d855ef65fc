import type { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';

type GraphiQLOptions = NonNullable<Parameters<typeof renderGraphiQL>[0]>;
interface Tab {
  query: string;
  /** JSON */
  variables: string;
}

/** Apollo Server's CSRF prevention lets a request through when it carries this header (GET included). */
const PREFLIGHT_HEADER = 'apollo-require-preflight';
const DAY_MS = 86_400_000;

/**
 * Example values for the contract operations' variables, by name; a variable
 * without one is left out (optional ones then take the schema's default:
 * `currency` the first configured currency, `first` 100).
 */
function exampleVariables(operation: OperationDefinitionNode, now: Date): Record<string, unknown> {
  const examples: Record<string, unknown> = {
    id: 'bitcoin',
    first: 10,
    search: 'bit',
    interval: 'HOUR',
    from: new Date(now.getTime() - DAY_MS).toISOString(),
    to: now.toISOString(),
  };
  const names = (operation.variableDefinitions ?? []).map((v) => v.variable.name.value);
  return Object.fromEntries(names.filter((name) => name in examples).map((name) => [name, examples[name]]));
}

/** One tab per operation of the document, as written there, with example variables. */
export function exampleTabs(operations: string, now = new Date()): Tab[] {
  return parse(operations).definitions.flatMap((definition) => {
    if (definition.kind !== Kind.OPERATION_DEFINITION || definition.loc === undefined) return [];
    return [
      {
        query: operations.slice(definition.loc.start, definition.loc.end),
        variables: JSON.stringify(exampleVariables(definition, now), null, 2),
      },
    ];
  });
}

/**
 * The GraphiQL page the gateway serves to browsers: GraphiQL 5 as bundled by
 * @graphql-yoga/render-graphiql, every script, style, web worker and icon
 * inline in one document, so it loads from the gateway alone (no CDN, works
 * offline). The contract's operations open as tabs; requests go to /graphql
 * with Apollo's CSRF header, so GET and POST both pass.
 *
 * Imported only when the IDE is on: the bundle's module source alone holds
 * ~27 MB of the heap (bench/RESULTS.md, memory), which a gateway serving API
 * clients (production's default, GRAPHQL_IDE unset) should not carry.
 */
export async function idePage(contractOperations: string, now = new Date()): Promise<string> {
  const options: GraphiQLOptions = {
    title: 'Crypto Aggregator GraphQL API',
    endpoint: '/graphql',
    additionalHeaders: { [PREFLIGHT_HEADER]: 'true' },
    defaultTabs: exampleTabs(contractOperations, now),
    // The schema's own description and deprecated arguments show in the docs explorer.
    schemaDescription: true,
    inputValueDeprecation: true,
  };
  // The options are written into an inline <script> as JSON: "</" in them would end the script early.
  if (JSON.stringify(options).includes('</')) throw new Error('GraphiQL options must not contain "</"');
  const { renderGraphiQL: render } = await import('@graphql-yoga/render-graphiql');
  return render(options);
}
