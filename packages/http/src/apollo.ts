import type { ApolloServerOptions, BaseContext } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';

export type ApolloDefaults = Pick<
  ApolloServerOptions<BaseContext>,
  | 'introspection'
  | 'includeStacktraceInErrorResponses'
  | 'hideSchemaDetailsFromClientErrors'
  | 'formatError'
  | 'csrfPrevention'
  | 'allowBatchedHttpRequests'
  | 'stopOnTerminationSignals'
  | 'nodeEnv'
>;

/**
 * A client caused an error when it carries a code of its own (BAD_USER_INPUT, validation, ...);
 * anything else (a plain Error, a GraphQLError without a code) is a bug or an outage whose
 * message may hold internals. Judged by the code alone: being a GraphQLError says nothing of who
 * caused it.
 */
export function isUnexpectedError(code: unknown): boolean {
  return code === undefined || code === ApolloServerErrorCode.INTERNAL_SERVER_ERROR;
}

/** Quoted client values in messages keep this many characters (as packages/graphql's `quoted`). */
const QUOTE_LIMIT = 64;
/** Past this, a message is cut in the middle whatever its quoting (graphql-js also prints values unescaped or unquoted). */
const MESSAGE_LIMIT = 1_000;

function codePoints(text: string): { head: string; count: number } {
  let head = '';
  let count = 0;
  for (const char of text) {
    if (count < QUOTE_LIMIT) head += char;
    count++;
  }
  return { head, count };
}

/** The body of one quoted span, shortened to its head and a count when long; undefined when short. */
function shortenedSpan(body: string): string | undefined {
  if (body.length <= QUOTE_LIMIT + 1) return undefined;
  // graphql-js quotes values with JSON.stringify: count and cut the value, not its escapes.
  let value = body;
  let escaped = false;
  try {
    const parsed: unknown = JSON.parse(`"${body}"`);
    if (typeof parsed === 'string') [value, escaped] = [parsed, true];
  } catch {
    // quoted as it is (our own messages, graphql-js's enum messages)
  }
  const { head, count } = codePoints(value);
  if (count <= QUOTE_LIMIT) return undefined;
  // Already in short form (a message we wrote with `quoted`): left as it is.
  if (count === QUOTE_LIMIT + 1 && value.endsWith('…')) return undefined;
  return `${escaped ? JSON.stringify(head).slice(1, -1) : head}…" (${count.toLocaleString('en')} characters)`;
}

/**
 * Client values quoted in a message, shortened to 64 characters and a count, in one pass over it:
 * graphql-js quotes whole variable values in its coercion messages (`Variable "$first" got invalid
 * value "…"`), and every service forwards them. Then a last bound on the whole message.
 */
function shortenMessage(message: string): string {
  let out = '';
  let copied = 0;
  let open = message.indexOf('"');
  while (open !== -1) {
    let close = open + 1;
    while (close < message.length && message[close] !== '"') close += message[close] === '\\' ? 2 : 1;
    if (close >= message.length) break;
    const short = shortenedSpan(message.slice(open + 1, close));
    if (short !== undefined) {
      out += `${message.slice(copied, open)}"${short}`;
      copied = close + 1;
    }
    open = message.indexOf('"', close + 1);
  }
  const shortened = copied === 0 ? message : out + message.slice(copied);
  if (shortened.length <= MESSAGE_LIMIT) return shortened;
  const keep = MESSAGE_LIMIT / 2;
  return `${shortened.slice(0, keep)}… (${(shortened.length - 2 * keep).toLocaleString('en')} characters left out) …${shortened.slice(-keep)}`;
}

/**
 * The message without graphql-js's trailing " Did you mean …?" suggestion. Found from the end with
 * lastIndexOf: a regex like / ?Did you mean .+\?$/ backtracks quadratically over client text that
 * repeats the phrase (27 s for 260 KB).
 */
function withoutSuggestion(message: string): string {
  if (!message.endsWith('?')) return message;
  const at = message.lastIndexOf('Did you mean ');
  if (at === -1 || message.includes('\n', at)) return message;
  return message.slice(0, at > 0 && message[at - 1] === ' ' ? at - 1 : at);
}

/**
 * Apollo options every service shares. Plugins are not part of it on purpose: a
 * `plugins` key here would be overwritten by the caller's own list, so
 * `startService` hands the disabled-reporting plugins to `buildApollo` instead.
 */
export function apolloDefaults({ production, introspection }: { production: boolean; introspection: boolean }): ApolloDefaults {
  return {
    introspection: !production || introspection,
    includeStacktraceInErrorResponses: !production,
    hideSchemaDetailsFromClientErrors: production,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // Apollo's own handler re-raises the signal after stopping, so the exit code would not be 0.
    stopOnTerminationSignals: false,
    // Apollo otherwise reads NODE_ENV itself (landing page, defaults); the config module decides.
    nodeEnv: production ? 'production' : 'development',
    formatError(formatted: GraphQLFormattedError): GraphQLFormattedError {
      if (!production) {
        const stacktrace: unknown = formatted.extensions?.stacktrace;
        if (!Array.isArray(stacktrace)) return { ...formatted, message: shortenMessage(formatted.message) };
        // The stack's first line repeats the message.
        const lines = (stacktrace as unknown[]).map((line) => (typeof line === 'string' ? shortenMessage(line) : line));
        return { ...formatted, message: shortenMessage(formatted.message), extensions: { ...formatted.extensions, stacktrace: lines } };
      }
      // The gateway forwards subgraph errors as they are, including a development subgraph's stack.
      const extensions = { ...formatted.extensions };
      delete extensions.stacktrace;
      if (isUnexpectedError(extensions.code)) {
        return { ...formatted, message: 'Internal server error', extensions: { code: ApolloServerErrorCode.INTERNAL_SERVER_ERROR } };
      }
      // Suggestions also come from variable coercion (enum values), which the validation-only option misses.
      return { ...formatted, message: shortenMessage(withoutSuggestion(formatted.message)), extensions };
    },
  };
}
