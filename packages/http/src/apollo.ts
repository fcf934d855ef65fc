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
 * message may hold internals. Judged by the code alone: `instanceof GraphQLError` is unreliable
 * when graphql is loaded both as ESM and CJS (vitest does that).
 */
export function isUnexpectedError(code: unknown): boolean {
  return code === undefined || code === ApolloServerErrorCode.INTERNAL_SERVER_ERROR;
}

const SUGGESTION = / ?Did you mean .+\?$/;

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
      if (!production) return formatted;
      // The gateway forwards subgraph errors as they are, including a development subgraph's stack.
      const extensions = { ...formatted.extensions };
      delete extensions.stacktrace;
      if (isUnexpectedError(extensions.code)) {
        return { ...formatted, message: 'Internal server error', extensions: { code: ApolloServerErrorCode.INTERNAL_SERVER_ERROR } };
      }
      // Suggestions also come from variable coercion (enum values), which the validation-only option misses.
      return { ...formatted, message: formatted.message.replace(SUGGESTION, ''), extensions };
    },
  };
}
