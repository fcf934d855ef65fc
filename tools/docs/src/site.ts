import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  getNamedType,
  isLeafType,
  isObjectType,
  Kind,
  parse,
  TypeInfo,
  valueFromASTUntyped,
  visit,
  visitWithTypeInfo,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { stringify } from 'yaml';
import { WALL_CLOCK_FIELDS, WALL_CLOCK_PLACEHOLDER, type OperationExample } from './examples.js';
import { apiSdl } from './schema.js';

/** The theme overlaid on SpectaQL's default one (only the intro item partial, to show the contract examples). */
export const THEME_DIR = path.join(import.meta.dirname, '..', 'theme');

const SPECTAQL_CLI = path.join(path.dirname(createRequire(import.meta.url).resolve('spectaql/package.json')), 'bin', 'spectaql.js');

/**
 * Examples for the scalars, used where no real value was seen. SpectaQL's own
 * fallbacks are picked at random (`abc123` or `xyz789`) and its DateTime is
 * `new Date()`: both would make every build differ.
 */
const SCALAR_EXAMPLES: Record<string, unknown> = {
  String: 'text',
  ID: 'bitcoin',
  Int: 1,
  Float: 1.5,
  Boolean: true,
  DateTime: WALL_CLOCK_PLACEHOLDER,
};

interface Documentation {
  documentation: { example: unknown };
}
interface TypeMetadata {
  documentation?: { example: unknown };
  fields?: Record<string, Partial<Documentation> & { args?: Record<string, Documentation> }>;
}
/** SpectaQL's metadata file: examples keyed by kind, type, field and argument. */
type Metadata = Record<string, Record<string, TypeMetadata>>;

const example = (value: unknown): Documentation => ({ documentation: { example: value } });

/**
 * Example values for SpectaQL's generated per-query examples, taken from the
 * real responses (every leaf field the contract operations select) and from
 * the contract's example variables (arguments), so the site's examples show
 * real data and are the same on every build.
 */
export function exampleMetadata(schema: GraphQLSchema, examples: OperationExample[]): Metadata {
  const fields = new Map<string, unknown>();
  const args = new Map<string, unknown>();
  const walk = (type: GraphQLObjectType, value: Record<string, unknown>): void => {
    for (const [key, v] of Object.entries(value)) {
      const field = type.getFields()[key];
      if (!field || v === null) continue;
      const named = getNamedType(field.type);
      if (isLeafType(named)) {
        if (!fields.has(`${type.name}.${key}`)) fields.set(`${type.name}.${key}`, v);
      } else if (isObjectType(named)) {
        for (const item of [v].flat()) if (item !== null && typeof item === 'object') walk(named, item as Record<string, unknown>);
      }
    }
  };
  const queryType = schema.getQueryType();
  for (const e of examples) {
    if (queryType) walk(queryType, e.response.data);
    const typeInfo = new TypeInfo(schema);
    visit(
      parse(e.document),
      visitWithTypeInfo(typeInfo, {
        Argument(node) {
          const parent = typeInfo.getParentType();
          const field = typeInfo.getFieldDef();
          if (!parent || !field) return;
          const value = node.value.kind === Kind.VARIABLE ? e.variables[node.value.name.value] : valueFromASTUntyped(node.value);
          const key = `${parent.name}.${field.name}.${node.name.value}`;
          if (value !== undefined && !args.has(key)) args.set(key, value);
        },
      }),
    );
  }

  const metadata: Metadata = { OBJECT: {}, SCALAR: {} };
  for (const [name, value] of Object.entries(SCALAR_EXAMPLES)) metadata.SCALAR![name] = example(value);
  const endCursor = fields.get('PageInfo.endCursor');
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const typeFields: NonNullable<TypeMetadata['fields']> = {};
    for (const field of Object.values(type.getFields())) {
      const entry: Partial<Documentation> & { args?: Record<string, Documentation> } = {};
      const key = `${type.name}.${field.name}`;
      if (fields.has(key)) entry.documentation = { example: fields.get(key) };
      else if (WALL_CLOCK_FIELDS.includes(field.name)) entry.documentation = { example: WALL_CLOCK_PLACEHOLDER };
      const fieldArgs: Record<string, Documentation> = {};
      for (const arg of field.args) {
        const value = args.get(`${key}.${arg.name}`) ?? (arg.name === 'after' ? endCursor : undefined);
        if (value !== undefined) fieldArgs[arg.name] = example(value);
      }
      if (Object.keys(fieldArgs).length > 0) entry.args = fieldArgs;
      if (entry.documentation || entry.args) typeFields[field.name] = entry;
    }
    if (Object.keys(typeFields).length > 0) metadata.OBJECT![type.name] = { fields: typeFields };
  }
  return metadata;
}

const fenced = (language: string, code: string): string => `\`\`\`${language}\n${code}\n\`\`\``;

const WELCOME = `The crypto aggregator collects market data from [CoinGecko](https://www.coingecko.com/en/api) every five minutes and serves it through this federated GraphQL API. This reference is generated from the descriptions in the subgraph SDL (\`schema/\`), composed into the schema the gateway serves, by \`npm run docs\`.

- Send queries as \`POST /graphql\` with a JSON body \`{ "query", "variables", "operationName" }\` (GET queries need the \`apollo-require-preflight\` header).
- \`currency\` arguments take one of the configured quote currencies (by default \`usd\`, \`eur\`, \`btc\`); omitted or null means the first one.
- Lists are cursor-paginated: \`first\` (1 to 250, default 100) and \`after\` (a previous page's \`endCursor\`).
- Bad arguments get an error with \`extensions.code = "BAD_USER_INPUT"\` naming the argument.

The **Examples** below are the public contract's operations with the response the gateway gave while these docs were generated (against the fake CoinGecko's fixed data of 2025-02-09). Wall-clock times (${WALL_CLOCK_FIELDS.map((f) => `\`${f}\``).join(', ')}) are shown as the placeholder \`${WALL_CLOCK_PLACEHOLDER}\`.`;

function introItem(e: OperationExample): Record<string, unknown> {
  const links = e.rootFields.map((f) => `[\`${f}\`]({{Queries.${f}}})`).join(', ');
  const frozen = WALL_CLOCK_FIELDS.filter((name) => JSON.stringify(e.response).includes(`"${name}":`));
  const note =
    frozen.length > 0
      ? ` ${frozen.map((f) => `\`${f}\``).join(', ')} ${frozen.length > 1 ? 'are times' : 'is a time'} of the generating run, shown as the fixed placeholder \`${WALL_CLOCK_PLACEHOLDER}\` so that every build is identical; every other value is exactly what the gateway answered.`
      : ' Every value is exactly what the gateway answered.';
  return {
    title: `Example: ${e.name}`,
    description: `The contract operation \`${e.name}\` (uses ${links}), run unchanged against the local stack while these docs were generated.${note}`,
    'x-examples': [
      { title: 'Query', code: fenced('graphql', e.document) },
      { title: 'Variables', code: fenced('json', JSON.stringify(e.variables, null, 2)) },
      { title: 'Response', code: fenced('json', JSON.stringify(e.response, null, 2)) },
    ],
  };
}

/** SpectaQL substitutes environment variables (`$NAME`, `${NAME}`) in every string of its config; a backslash before the `$` keeps it (GraphQL variables). */
function escapeDollars(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\$/g, '\\$');
  if (Array.isArray(value)) return value.map(escapeDollars);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeDollars(v)]));
  return value;
}

function runSpectaql(config: string, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SPECTAQL_CLI, config], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`spectaql exited with ${code}:\n${output}`))));
  });
}

const isExternal = (url: string): boolean => /^([a-z][a-z0-9+.-]*:)?\/\//i.test(url.trim()) && !/^data:/i.test(url.trim());

/**
 * Everything in a built site that a browser would load from another host:
 * scripts, stylesheets, icons, images, frames and CSS url()/@import. Plain
 * hyperlinks (<a href>) are not loaded and do not count.
 */
export function externalAssets(siteDir: string): string[] {
  const found: string[] = [];
  const files = readdirSync(siteDir, { recursive: true, encoding: 'utf8' }).sort();
  for (const file of files) {
    const full = path.join(siteDir, file);
    if (/\.html?$/.test(file)) {
      const html = readFileSync(full, 'utf8');
      for (const match of html.matchAll(/<(script|img|iframe|source|video|audio|embed)\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)/gi)) {
        if (isExternal(match[2]!)) found.push(`${file}: <${match[1]}> ${match[2]}`);
      }
      for (const match of html.matchAll(/<link\b[^>]*\bhref\s*=\s*["']?([^"'\s>]+)/gi)) {
        if (isExternal(match[1]!)) found.push(`${file}: <link> ${match[1]}`);
      }
    }
    if (/\.(html?|css)$/.test(file)) {
      const text = readFileSync(full, 'utf8');
      for (const match of text.matchAll(/url\(\s*["']?([^"')]+)|@import\s+["']([^"']+)/gi)) {
        const url = match[1] ?? match[2] ?? '';
        if (isExternal(url)) found.push(`${file}: css ${url}`);
      }
    }
  }
  return found;
}

/**
 * Builds the static HTML site with SpectaQL (offline: the default theme has
 * no web fonts or CDN scripts; its "powered by" link is hidden and the
 * favicon is an empty data: URL, so a browser requests nothing but the site's
 * own three files). Replaces `targetDir` entirely.
 */
export async function buildSite(schema: GraphQLSchema, examples: OperationExample[], targetDir: string): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'cryptoagg-spectaql-'));
  try {
    writeFileSync(path.join(work, 'schema.graphql'), apiSdl(schema));
    writeFileSync(path.join(work, 'metadata.json'), JSON.stringify(exampleMetadata(schema, examples), null, 2));
    const config = {
      spectaql: {
        targetDir: path.resolve(targetDir),
        themeDir: THEME_DIR,
        faviconUrl: 'data:,',
        quiet: true,
      },
      introspection: {
        schemaFile: path.join(work, 'schema.graphql'),
        metadataFile: path.join(work, 'metadata.json'),
        spectaqlDirective: { enable: false },
        fieldExpansionDepth: 1,
      },
      extensions: { graphqlScalarExamples: false },
      info: {
        title: 'Crypto Aggregator GraphQL API',
        description: WELCOME,
        'x-hidePoweredBy': true,
        'x-introItems': examples.map(introItem),
      },
      servers: [{ url: 'http://localhost:4000/graphql', description: 'Local (npm start)', production: true }],
    };
    writeFileSync(path.join(work, 'config.yml'), stringify(escapeDollars(config)));
    rmSync(targetDir, { recursive: true, force: true });
    await runSpectaql(path.join(work, 'config.yml'), work);
    const external = externalAssets(targetDir);
    if (external.length > 0) throw new Error(`the built site would load assets from other hosts:\n${external.join('\n')}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
