import { z } from 'zod';

/**
 * Parses a process's environment once, at start-up. On any invalid variable it
 * prints one line per variable to stderr and exits 1, so an operator sees every
 * mistake in one go instead of fixing them one crash at a time.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = parseConfig(schema, env);
  if (result.ok) return result.config;
  for (const line of result.errors) process.stderr.write(`${line}\n`);
  process.exit(1);
}

export type ParsedConfig<T> = { ok: true; config: T } | { ok: false; errors: string[] };

export function parseConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): ParsedConfig<z.output<S>> {
  // Empty strings count as unset, as in most twelve-factor tooling (`FOO= npm start`).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return { ok: true, config: result.data };
  const errors = result.error.issues.map((issue) => `invalid configuration: ${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  return { ok: false, errors };
}

function urlWithProtocols(protocols: string[], example: string) {
  return z.string().refine(
    (value) => {
      try {
        const url = new URL(value);
        return protocols.includes(url.protocol) && url.hostname !== '';
      } catch {
        return false;
      }
    },
    // Never echo the value: connection strings carry passwords.
    { message: `must be a URL like ${example}` },
  );
}

export const env = {
  databaseUrl: urlWithProtocols(['postgres:', 'postgresql:'], 'postgres://user:pass@host:5432/db'),
  redisUrl: urlWithProtocols(['redis:', 'rediss:'], 'redis://host:6379/0'),
  httpUrl: (example: string) => urlWithProtocols(['http:', 'https:'], example),
  port: (fallback: number) =>
    z
      .string()
      .default(String(fallback))
      .refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535, {
        message: 'must be a port number between 1 and 65535',
      })
      .transform(Number),
  int: (fallback: number, min: number, max: number) =>
    z
      .string()
      .default(String(fallback))
      .refine((v) => /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max, {
        message: `must be a whole number between ${min} and ${max}`,
      })
      .transform(Number),
  currencies: z
    .string()
    .default('usd,eur,btc')
    .transform((v) => [
      ...new Set(
        v
          .split(',')
          .map((c) => c.trim().toLowerCase())
          .filter((c) => c !== ''),
      ),
    ])
    .refine((list) => list.length > 0, { message: 'must list at least one currency, e.g. usd,eur,btc' })
    .refine((list) => list.every((c) => /^[a-z0-9]{2,10}$/.test(c)), {
      message: 'must be comma-separated currency codes like usd,eur,btc',
    }),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  nodeEnv: z.enum(['production', 'development', 'test']).optional(),
  /** the secret the gateway sends and the subgraphs require, in SUBGRAPH_SECRET_HEADER */
  subgraphSecret: z.string().min(16, 'must be at least 16 characters').optional(),
};

/** The request header that carries SUBGRAPH_SECRET from the gateway to the subgraphs. */
export const SUBGRAPH_SECRET_HEADER = 'x-subgraph-secret';

type Refinement<K extends string> = [
  check: (e: { NODE_ENV?: string | undefined } & { [V in K]?: unknown }) => boolean,
  params: { path: string[]; message: string },
];

const required = <K extends string>(variable: K): Refinement<K> => [
  (e) => e.NODE_ENV !== 'production' || e[variable] !== undefined,
  { path: [variable], message: 'is required when NODE_ENV=production' },
];

/**
 * What a process cannot run without under NODE_ENV=production, as arguments of a schema's
 * `.refine(...requiredInProduction.DATABASE_URL)`.
 */
export const requiredInProduction = {
  // An image has no embedded PostgreSQL (a dev dependency): say what is missing instead of failing on a module.
  DATABASE_URL: required('DATABASE_URL'),
  // Production subgraphs answer the gateway only, which proves itself with the secret.
  SUBGRAPH_SECRET: required('SUBGRAPH_SECRET'),
};
