import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  apiSchema,
  buildSite,
  contractOperations,
  externalAssets,
  generateDocs,
  MARKDOWN_PATH,
  renderMarkdown,
  WALL_CLOCK_PLACEHOLDER,
  type GeneratedDocs,
} from '@cryptoagg/docs';
import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import { buildSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURE = buildSchema(`
  type Query {
    "Things, a page at a time."
    things(
      "How many."
      first: Int = 10
      "Old way to filter."
      legacyFilter: String @deprecated(reason: "Use \`mode\`.")
      "How to look."
      mode: Mode = FAST
    ): [Thing!]!
  }
  "A thing."
  type Thing {
    "Its id."
    id: ID!
    "Its old name."
    oldName: String @deprecated(reason: "Use \`id\`.")
  }
  "Ways to look."
  enum Mode {
    "Quickly."
    FAST
    "Thoroughly."
    SLOW @deprecated(reason: "Too slow.")
  }
  "A filter."
  input Alpha {
    "Some number."
    x: Int = 3
  }
`);

describe('the Markdown reference', () => {
  const markdown = renderMarkdown(FIXTURE, []);

  it('lists arguments with their defaults, enum values, and deprecations with their reasons', () => {
    expect(markdown).toContain('| `first` | [`Int`](#int-built-in-scalar) | `10` | How many. |');
    expect(markdown).toContain('| `legacyFilter` | [`String`](#string-built-in-scalar) |  | **Deprecated:** Use `mode`. Old way to filter. |');
    expect(markdown).toContain('| `mode` | [`Mode`](#mode-enum) | `FAST` | How to look. |');
    expect(markdown).toContain('| `oldName` | [`String`](#string-built-in-scalar) | **Deprecated:** Use `id`. Its old name. |');
    expect(markdown).toContain('| `SLOW` | **Deprecated:** Too slow. Thoroughly. |');
    expect(markdown).toContain('| `x` | [`Int`](#int-built-in-scalar) | `3` | Some number. |');
    expect(markdown).toContain('Returns [`[Thing!]!`](#thing-object).');
  });

  it('sorts types by name and gives the same bytes for the same schema', () => {
    const headings = [...markdown.matchAll(/^### `(\w+)` \((?!query)/gm)].map((m) => m[1]);
    expect(headings).toEqual(['Alpha', 'Boolean', 'ID', 'Int', 'Mode', 'String', 'Thing']);
    expect(renderMarkdown(FIXTURE, [])).toBe(markdown);
  });
});

describe('npm run docs', () => {
  let t: TestDatabase;
  let scratch: string;
  let docs: GeneratedDocs;

  beforeAll(async () => {
    t = await createTestDatabase('docs_generate');
    scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-docs-test-'));
    docs = await generateDocs({ databaseUrl: t.url, markdownPath: null, siteDir: path.join(scratch, 'a') });
  });
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await t.destroy();
  });

  it('docs/schema.md is up to date (regenerate with `npm run docs`)', () => {
    expect(readFileSync(MARKDOWN_PATH, 'utf8'), 'docs/schema.md is stale: run `npm run docs` and commit it').toBe(docs.markdown);
  });

  it('has every contract operation with its variables and the real response, wall-clock times frozen', () => {
    expect(docs.examples.map((e) => e.name)).toEqual(contractOperations().map((op) => op.name));
    for (const example of docs.examples) {
      expect(docs.markdown).toContain(`### Example: ${example.name}\n\n\`\`\`graphql\n${example.document}\n\`\`\``);
      expect(docs.markdown).toContain(JSON.stringify(example.response, null, 2));
    }
    const markets = docs.examples.find((e) => e.name === 'Markets')!;
    expect(markets.variables).toEqual({ currency: 'usd', first: 3 });
    expect(JSON.stringify(markets.response)).toContain('"fetchedAt":"' + WALL_CLOCK_PLACEHOLDER + '"');
    const history = docs.examples.find((e) => e.name === 'CoinHistory')!.response.data as { coin: { history: { time: string }[] } };
    expect(history.coin.history.map((p) => p.time)).toEqual(['2025-02-09T17:44:04.143Z', '2025-02-09T17:49:04.143Z', '2025-02-09T17:54:04.143Z']);
  });

  it('builds a site that loads nothing from other hosts, with the examples in it', () => {
    const site = path.join(scratch, 'a');
    expect(readdirSync(site, { recursive: true, encoding: 'utf8' }).sort()).toEqual([
      'index.html',
      'javascripts',
      'javascripts/spectaql.min.js',
      'stylesheets',
      'stylesheets/spectaql.min.css',
    ]);
    expect(externalAssets(site)).toEqual([]);
    const html = readFileSync(path.join(site, 'index.html'), 'utf8');
    expect(html).not.toMatch(/fonts\.googleapis|cdn\.|unpkg|jsdelivr|powered-by/);
    for (const e of docs.examples) expect(html).toContain(`Example: ${e.name}`);
    // SpectaQL's own fallbacks are random (abc123 / xyz789) and its DateTime example is "now".
    expect(html).not.toMatch(/abc123|xyz789/);
    expect(html).toContain('<span class="hljs-code">$currency</span>');
  });

  it('builds the same site again, byte for byte', async () => {
    await buildSite(apiSchema(), docs.examples, path.join(scratch, 'b'));
    for (const file of ['index.html', 'javascripts/spectaql.min.js', 'stylesheets/spectaql.min.css']) {
      expect(readFileSync(path.join(scratch, 'b', file), 'utf8'), file).toBe(readFileSync(path.join(scratch, 'a', file), 'utf8'));
    }
  });

  it('the external-asset check finds a CDN script, stylesheet and web font', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs');
    const bad = path.join(scratch, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(
      path.join(bad, 'index.html'),
      '<link rel="stylesheet" href="https://cdn.example/x.css"><script src="//cdn.example/x.js"></script><a href="https://example.com">a link is fine</a><img src="data:,">',
    );
    writeFileSync(path.join(bad, 'a.css'), "@import 'https://fonts.googleapis.com/css?family=Inter'; .x { background: url(images/local.png) }");
    expect(externalAssets(bad)).toEqual([
      'a.css: css https://fonts.googleapis.com/css?family=Inter',
      'index.html: <script> //cdn.example/x.js',
      'index.html: <link> https://cdn.example/x.css',
    ]);
  });
});
