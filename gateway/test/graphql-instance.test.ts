import { composeServices } from '@apollo/composition';
import { isSchema, parse, printSchema } from 'graphql';
import { expect, it } from 'vitest';

// vitest.config.ts points `import 'graphql'` at the CommonJS build, which @apollo/* load: without it, two copies.
it('loads graphql once: a schema @apollo/composition builds is a schema to our graphql', () => {
  const composed = composeServices([{ name: 'one', typeDefs: parse('type Query { one: Int }'), url: 'http://127.0.0.1:1/graphql' }]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  const api = composed.schema.toAPISchema().toGraphQLJSSchema();
  expect(isSchema(api)).toBe(true);
  expect(printSchema(api)).toBe('type Query {\n  one: Int\n}');
});
