import { GraphQLError } from 'graphql';

/** An error the client caused: code BAD_USER_INPUT, with a message that names the argument and what is allowed. */
export function badInput(argument: string, message: string): GraphQLError {
  return new GraphQLError(`${argument}: ${message}`, { extensions: { code: 'BAD_USER_INPUT', argumentName: argument } });
}
