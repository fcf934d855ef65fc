import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DOCS_SITE_DIR, readSdl, REPO_ROOT, subgraphs } from '@cryptoagg/core';
import { findUndocumented } from './completeness.js';
import { collectExamples, type CollectOptions, type OperationExample } from './examples.js';
import { renderMarkdown } from './markdown.js';
import { apiSchema } from './schema.js';
import { buildSite } from './site.js';

/** Where `npm run docs` writes: the Markdown reference is committed, the site is built (gitignored) and served by the gateway at /docs. */
export const MARKDOWN_PATH = path.join(REPO_ROOT, 'docs', 'schema.md');

export interface GenerateOptions extends CollectOptions {
  /** default docs/schema.md; null skips the Markdown */
  markdownPath?: string | null;
  /** default docs/site; null skips the site */
  siteDir?: string | null;
}

export interface GeneratedDocs {
  markdown: string;
  examples: OperationExample[];
}

/**
 * `npm run docs`: checks that the subgraph SDL is fully described, composes
 * the API schema, runs the contract examples, builds the site and writes the
 * Markdown reference. Throws when any step fails. It never touches the
 * DATABASE_URL of the environment: the examples get a throwaway database.
 */
export async function generateDocs(options: GenerateOptions = {}): Promise<GeneratedDocs> {
  const log = options.log ?? (() => undefined);
  const gaps = subgraphs().flatMap((s) => findUndocumented(readSdl(s)).map((gap) => `${path.relative(REPO_ROOT, s.sdlPath)}: ${gap}`));
  if (gaps.length > 0) throw new Error(`the SDL is not fully documented:\n${gaps.join('\n')}`);
  const schema = apiSchema();
  log('composed the API schema from schema/');
  const examples = await collectExamples(options);
  const markdown = renderMarkdown(schema, examples);
  const siteDir = options.siteDir === undefined ? DOCS_SITE_DIR : options.siteDir;
  if (siteDir) {
    await buildSite(schema, examples, siteDir);
    log(`built ${path.relative(process.cwd(), siteDir) || siteDir}/ (served by the gateway at /docs)`);
  }
  const markdownPath = options.markdownPath === undefined ? MARKDOWN_PATH : options.markdownPath;
  if (markdownPath) {
    writeFileSync(markdownPath, markdown);
    log(`wrote ${path.relative(process.cwd(), markdownPath) || markdownPath}`);
  }
  return { markdown, examples };
}
