import { GraphQLScalarType, Kind } from 'graphql';

/*
 * DateTime outputs ISO-8601 in UTC with milliseconds. Inputs are passed through
 * as strings and checked by `parseDateTime` in the resolver, so that a bad value
 * gets BAD_USER_INPUT with a message naming the argument, whether it came as a
 * variable or a literal, directly or through the gateway.
 */
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const DateTimeScalar = new GraphQLScalarType<string | null, string>({
  name: 'DateTime',
  serialize(value) {
    // Cached rows carry dates already in this exact form: pass them through without re-parsing.
    if (typeof value === 'string' && CANONICAL.test(value)) return value;
    const date = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new TypeError(`DateTime cannot represent ${String(value)}`);
    return date.toISOString();
  },
  parseValue: (value) => (typeof value === 'string' ? value : JSON.stringify(value)),
  parseLiteral: (ast) => (ast.kind === Kind.STRING ? ast.value : ast.kind === Kind.NULL ? null : JSON.stringify(ast)),
});
