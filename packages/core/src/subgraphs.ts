import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { SUBGRAPH_MANIFEST_PATH } from './paths.js';

/**
 * The subgraph roster (schema/subgraphs.yaml), in the spirit of rover's
 * supergraph.yaml: per subgraph its SDL file, routing URL and port with the
 * variables that override them, its entry points and what codegen needs.
 * Compose, codegen, the gateway's and the subgraphs' configuration, npm start,
 * the build, the schema check, the docs and the test kit all read it here, so
 * adding a subgraph is a folder, an SDL file and one entry there.
 */

const variable = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name such as COINS_PORT');
const sourceFile = z.string().regex(/^[\w-]+(\/[\w.-]+)*\.ts$/, 'must be a TypeScript file relative to the repository root');
const httpUrl = z.string().refine((value) => URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol), {
  message: 'must be an http(s) URL',
});

const entrySchema = z.strictObject({
  schema: z.strictObject({
    // Beside the manifest: the schema check finds a subgraph's SDL at a git ref by this name.
    file: z.string().regex(/^[\w-]+\.graphql$/, 'must be an SDL file beside the manifest, such as coins.graphql'),
  }),
  routing_url: z.strictObject({ default: httpUrl, variable }),
  port: z.strictObject({ default: z.number().int().min(1).max(65_535), variable }),
  service: z.strictObject({
    /** what a process runs: npm start, the build's bundle, the test kit's processes */
    main: sourceFile,
    /** exports `service` ({ configSchema, start }) for the test kit's in-process system */
    module: sourceFile,
  }),
  codegen: z.strictObject({
    /** GraphQL type -> the row type its resolvers return, relative to the generated file */
    mappers: z.record(z.string(), z.string()),
  }),
});

const manifestSchema = z
  .strictObject({
    subgraphs: z.record(z.string(), entrySchema).refine((subgraphs) => Object.keys(subgraphs).length > 0, { message: 'must list at least one subgraph' }),
  })
  .superRefine(({ subgraphs }, context) => {
    const seen = new Map<string, string>();
    for (const [name, entry] of Object.entries(subgraphs)) {
      // Also the supergraph's graph name and the cache key prefix of the subgraph.
      if (!/^[a-z][a-z0-9-]*$/.test(name)) context.addIssue({ code: 'custom', path: ['subgraphs', name], message: 'must be a lower-case name such as coins' });
      // npm start, the build and the test kit run the gateway under that name beside the subgraphs.
      if (name === 'gateway') context.addIssue({ code: 'custom', path: ['subgraphs', name], message: "is the gateway's name: pick another" });
      for (const [key, value] of [
        ['routing_url.variable', entry.routing_url.variable],
        ['port.variable', entry.port.variable],
        ['port.default', String(entry.port.default)],
        ['schema.file', entry.schema.file],
      ] as const) {
        const owner = seen.get(`${key}=${value}`);
        if (owner !== undefined) context.addIssue({ code: 'custom', path: ['subgraphs', name, ...key.split('.')], message: `${value} is already ${owner}'s` });
        seen.set(`${key}=${value}`, name);
      }
    }
  });

export interface Subgraph {
  /** the subgraph's name in the supergraph (`coins`) */
  name: string;
  /** absolute path of its SDL */
  sdlPath: string;
  /** where the gateway finds it unless `url.variable` says otherwise */
  url: { default: string; variable: string };
  /** the port it listens on unless `port.variable` says otherwise */
  port: { default: number; variable: string };
  /** entry points, relative to the repository root */
  main: string;
  module: string;
  /** codegen mappers: GraphQL type -> row type, relative to the generated file */
  mappers: Record<string, string>;
}

/** Reads and validates a subgraph manifest; throws naming the file and every problem. */
export function readSubgraphManifest(file: string = SUBGRAPH_MANIFEST_PATH): Subgraph[] {
  const result = manifestSchema.safeParse(parse(readFileSync(file, 'utf8')));
  if (!result.success) throw new Error(`invalid subgraph manifest ${file}:\n${z.prettifyError(result.error)}`);
  return Object.entries(result.data.subgraphs).map(([name, entry]) => ({
    name,
    sdlPath: path.resolve(path.dirname(file), entry.schema.file),
    url: entry.routing_url,
    port: entry.port,
    main: entry.service.main,
    module: entry.service.module,
    mappers: entry.codegen.mappers,
  }));
}

let roster: readonly Subgraph[] | undefined;

/** The repository's subgraphs (schema/subgraphs.yaml), in manifest order. */
export function subgraphs(): readonly Subgraph[] {
  roster ??= Object.freeze(readSubgraphManifest());
  return roster;
}

/** One subgraph of the repository's manifest, by name. */
export function subgraph(name: string): Subgraph {
  const found = subgraphs().find((s) => s.name === name);
  if (!found) throw new Error(`no subgraph ${name} in ${SUBGRAPH_MANIFEST_PATH}`);
  return found;
}

/** A subgraph's SDL: the one place it is read from disk. */
export const readSdl = (of: Subgraph): string => readFileSync(of.sdlPath, 'utf8');
