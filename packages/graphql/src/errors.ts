import { GraphQLError } from 'graphql';

/** An error the client caused: code BAD_USER_INPUT, with a message that names the argument and what is allowed. */
export function badInput(argument: string, message: string): GraphQLError {
  return new GraphQLError(`${argument}: ${message}`, { extensions: { code: 'BAD_USER_INPUT', argumentName: argument } });
}

/** How many characters of a client's value a message quotes. */
const QUOTE_LIMIT = 64;

/** The first `limit` characters of `value` and how many it has, counting code points (an unpaired surrogate is one). */
function headAndCount(value: string, limit: number): { head: string; count: number } {
  let head = '';
  let count = 0;
  for (const char of value) {
    if (count < limit) head += char;
    count++;
  }
  return { head, count };
}

/** Characters as a reader counts them (code points, not UTF-16 units). */
export function characterCount(value: string): number {
  return headAndCount(value, 0).count;
}

/**
 * A client's value in double quotes for an error message: in full when short, else its first 64
 * characters and its length. A 1 MB argument must not become a 1 MB message (and a 1 MB line in
 * every log and stack trace that carries it). Same form as the HTTP layer's shortening of the
 * messages we do not write (packages/http/src/apollo.ts), which leaves this one as it is.
 */
export function quoted(value: string): string {
  const { head, count } = headAndCount(value, QUOTE_LIMIT);
  return count <= QUOTE_LIMIT ? `"${value}"` : `"${head}…" (${count.toLocaleString('en')} characters)`;
}
