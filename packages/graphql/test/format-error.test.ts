import { apolloDefaults } from '@cryptoagg/http';
import { buildSchema, graphql, type GraphQLFormattedError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { badInput, quoted } from '../src/index.js';

/*
 * The shared formatError (packages/http/src/apollo.ts) on the messages graphql-js writes from a
 * client's variables, and on ours: long quoted values come out short, in linear time, in
 * production and development alike; short messages come out as they were.
 */

const schema = buildSchema(`
  enum Interval { RAW HOUR DAY }
  type Query { markets(currency: String, first: Int, interval: Interval): Int }
`);
const DOCUMENT = 'query($currency: String, $first: Int, $interval: Interval) { markets(currency: $currency, first: $first, interval: $interval) }';

/** The error graphql-js reports for these variables, formatted as a service would send it. */
async function formatted(variables: Record<string, unknown>, production: boolean): Promise<GraphQLFormattedError> {
  const result = await graphql({ schema, source: DOCUMENT, variableValues: variables });
  const [error] = result.errors ?? [];
  if (!error) throw new Error('no error');
  const format = apolloDefaults({ production, introspection: false }).formatError;
  if (!format) throw new Error('no formatError');
  const stacktrace = production ? {} : { stacktrace: (error.stack ?? '').split('\n') };
  return format({ ...error.toJSON(), extensions: { code: 'BAD_USER_INPUT', ...stacktrace } }, error);
}

const format = (message: string, production: boolean) =>
  apolloDefaults({ production, introspection: false }).formatError?.({ message, extensions: { code: 'BAD_USER_INPUT' } }, new Error(message)).message;

// Repeats the phrase the old suggestion regex backtracked on: 27 s for 260 KB.
const HOSTILE = ' Did you mean x?'.repeat(32_768); // 524,288 characters
const HEAD = JSON.stringify(HOSTILE.slice(0, 64)).slice(1, -1);

describe.each([
  ['production', true],
  ['development', false],
])('%s', (_mode, production) => {
  it('a 500 KB value in a graphql-js coercion message is quoted short, in well under a second', async () => {
    const started = performance.now();
    const error = await formatted({ first: HOSTILE }, production);
    expect(performance.now() - started).toBeLessThan(500);
    expect(error.message).toBe(
      `Variable "$first" got invalid value "${HEAD}…" (524,288 characters); Int cannot represent non-integer value: "${HEAD}…" (524,288 characters)`,
    );
    if (!production) {
      const stack = error.extensions?.stacktrace as string[];
      // graphql-js hands on the coercion error's own stack, whose first line quotes the value again.
      expect(stack[0]).toBe(`GraphQLError: Int cannot represent non-integer value: "${HEAD}…" (524,288 characters)`);
      expect(stack.every((line) => line.length < 1_000)).toBe(true);
    }
  });

  it('a value unescaped in the message (enum values) is bounded too', async () => {
    const started = performance.now();
    const error = await formatted({ interval: `"${HOSTILE}` }, production);
    expect(performance.now() - started).toBeLessThan(500);
    expect(error.message.length).toBeLessThan(1_100);
    expect(error.message).toMatch(/^Variable "\$interval" got invalid value "\\" Did you mean x\? .*…" \(524,289 characters\); Value ""/);
    expect(error.message).toMatch(/ \(\d[\d,]* characters left out\) …/);
    expect(error.message).toMatch(/does not exist in "Interval" enum\.$/);
  });

  it('escapes stay escapes, and the count is of the value', async () => {
    const value = `a"b\\c\n${'z'.repeat(100)}`;
    const error = await formatted({ first: value }, production);
    const head = JSON.stringify(value.slice(0, 64)).slice(1, -1);
    expect(error.message).toBe(
      `Variable "$first" got invalid value "${head}…" (106 characters); Int cannot represent non-integer value: "${head}…" (106 characters)`,
    );
  });

  it('leaves short messages exactly as they were', async () => {
    for (const message of [
      'currency: unknown currency "gbp"; allowed: usd, eur, btc',
      'first: must be between 1 and 250, got 0',
      'after: malformed cursor; pass the endCursor (or an edge cursor) of a previous page',
      'from: must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got "yesterday"',
      `currency: unknown currency "${'x'.repeat(64)}"; allowed: usd`,
      'Variable "$first" got invalid value "x"; Int cannot represent non-integer value: "x"',
    ]) {
      expect(format(message, production)).toBe(message);
    }
    expect((await formatted({ first: 'abc' }, production)).message).toBe(
      'Variable "$first" got invalid value "abc"; Int cannot represent non-integer value: "abc"',
    );
  });

  it('leaves our own short form as it is', () => {
    const message = badInput('currency', `unknown currency ${quoted('q'.repeat(1_000))}; allowed: usd`).message;
    expect(message).toBe(`currency: unknown currency "${'q'.repeat(64)}…" (1,000 characters); allowed: usd`);
    expect(format(message, production)).toBe(message);
  });
});

describe('suggestions', () => {
  it('production strips the trailing suggestion, development keeps it', () => {
    const message = 'Cannot query field "totalCont" on type "MarketConnection". Did you mean "totalCount"?';
    expect(format(message, true)).toBe('Cannot query field "totalCont" on type "MarketConnection".');
    expect(format(message, false)).toBe(message);
    expect(format('Value "HOURS" does not exist in "Interval" enum. Did you mean the enum value "HOUR"?', true)).toBe(
      'Value "HOURS" does not exist in "Interval" enum.',
    );
  });

  it('in linear time over client text that repeats the phrase', () => {
    const message = `Value "${HOSTILE.slice(0, 260_000)}" does not exist in "Interval" enum. Did you mean the enum value "HOUR"?`;
    const started = performance.now();
    const result = format(message, true);
    expect(performance.now() - started).toBeLessThan(500);
    expect(result).toBe(`Value "${HOSTILE.slice(0, 64)}…" (260,000 characters) does not exist in "Interval" enum.`);
  });
});
