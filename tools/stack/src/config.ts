import { env, loadConfig, subgraphs } from '@cryptoagg/core';
import { z } from 'zod';

const roster = subgraphs();

const schema = z.object({
  DATABASE_URL: env.databaseUrl.optional(),
  FETCH_SCHEDULE: z.string().default('*/5 * * * *'),
  LOG_LEVEL: env.logLevel,
  // Where the API will be, for the start-up messages (the gateway parses its own configuration).
  GATEWAY_PORT: env.port(4000),
  // Each subgraph's port variable (COINS_PORT, ...) from the manifest: data, not types, so read back by name below.
  ...(Object.fromEntries(roster.map((s) => [s.port.variable, env.port(s.port.default)])) as object),
});

export const config = loadConfig(schema);

/** Where the gateway finds each subgraph under npm start (COINS_URL, ...): this machine, on the subgraph's port. */
export const localSubgraphUrls = (): Record<string, string> =>
  Object.fromEntries(roster.map((s) => [s.url.variable, `http://127.0.0.1:${String((config as Record<string, unknown>)[s.port.variable])}/graphql`]));

/** Children parse their own configuration from the same environment (they fail fast on their own). */
export const inheritedEnvironment = (): NodeJS.ProcessEnv => ({ ...process.env });
