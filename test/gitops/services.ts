/**
 * The services' own configuration schemas, keyed by image name, for the
 * drift policy: the zod schemas in each config module are the source of truth
 * for variable names, ports and defaults.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '@cryptoagg/core';
import type { z } from 'zod';
import { gatewayConfigSchema } from '../../gateway/src/config.js';
import { fetcherConfigSchema } from '../../jobs/fetcher/src/config.js';
import { coinsConfigSchema } from '../../subgraphs/coins/src/config.js';
import { pricesConfigSchema } from '../../subgraphs/prices/src/config.js';
import { repoRoot } from './k8s.js';
import type { ServiceSchema } from './policies.js';

/** The variable names of a config schema: the keys of the object inside its refinements and transforms. */
function schemaVariables(schema: z.ZodType): string[] {
  let current: unknown = schema;
  for (let depth = 0; depth < 10; depth++) {
    const candidate = current as { shape?: Record<string, unknown>; in?: unknown; def?: { in?: unknown; innerType?: unknown } };
    if (candidate.shape !== undefined) return Object.keys(candidate.shape);
    current = candidate.in ?? candidate.def?.in ?? candidate.def?.innerType;
    if (current === undefined) break;
  }
  throw new Error('not an object schema (wrapped in refinements or transforms)');
}

function fromSchema(schema: z.ZodType): ServiceSchema {
  return {
    variables: schemaVariables(schema),
    parse: (env) => {
      const result = parseConfig(schema, env);
      return result.ok ? { ok: true, config: result.config as Record<string, unknown> } : { ok: false, errors: result.errors };
    },
  };
}

/**
 * The migration CLI (packages/db/src/cli/migrate.ts) parses its environment
 * inline at import, where it cannot be imported without running: read the
 * variable names from the `z.object({ ... })` in its source.
 */
export function migrateVariables(): string[] {
  const source = readFileSync(path.join(repoRoot, 'packages/db/src/cli/migrate.ts'), 'utf8');
  const block = /z\s*\.object\(\{([\s\S]*?)\}\)/.exec(source)?.[1] ?? '';
  return [...block.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:/gm)].map((m) => m[1] ?? '');
}

export const SERVICES: Record<string, ServiceSchema> = {
  gateway: fromSchema(gatewayConfigSchema),
  coins: fromSchema(coinsConfigSchema),
  prices: fromSchema(pricesConfigSchema),
  fetcher: fromSchema(fetcherConfigSchema),
  migrate: { variables: migrateVariables() },
};
