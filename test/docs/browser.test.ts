import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, parseConfig } from '@cryptoagg/core';
import { REPO_ROOT } from '@cryptoagg/core';
import { apiSchema, generateDocs } from '@cryptoagg/docs';
import { gatewayConfigSchema, startGateway } from '@cryptoagg/gateway';
import type { RunningService } from '@cryptoagg/http';
import { createTestDatabase, freePort, type TestDatabase } from '@cryptoagg/testkit';
import { requireTool } from '@cryptoagg/testkit/tools';
import { isObjectType } from 'graphql';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Debian's chromium; CI installs it (`command -v chromium || apt-get install -y chromium`). Missing fails under CI=true; elsewhere the file is skipped and named in the run's summary. */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = requireTool('chromium');
const SCREENSHOT = path.join(REPO_ROOT, '.ci', 'out', 'docs.png');

let t: TestDatabase;
let scratch: string;
let gateway: RunningService;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  t = await createTestDatabase('docs_browser');
  scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-docs-site-'));
  await generateDocs({ databaseUrl: t.url, markdownPath: null, siteDir: scratch });
  // Only static files are looked at: the gateway needs no running subgraphs for that.
  const config = parseConfig(gatewayConfigSchema, { HOST: '127.0.0.1', GATEWAY_PORT: String(await freePort()), LOG_LEVEL: 'silent' });
  if (!config.ok) throw new Error(config.errors.join('\n'));
  gateway = await startGateway(config.config, createLogger('test-docs', 'silent'), { docsDir: scratch });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  await t?.destroy();
});

describe.skipIf(!hasChromium)('the gateway serves the docs at /docs', () => {
  it('redirects /docs to /docs/ so that relative links resolve', async () => {
    const response = await fetch(`${gateway.url}/docs`, { redirect: 'manual' });
    expect(response.status).toBe(301);
    expect(response.headers.get('location')).toBe('/docs/');
  });

  it('serves the page, its stylesheet and script with their content types, revalidation headers and ETags', async () => {
    const expected: [string, RegExp][] = [
      ['/docs/', /^text\/html; charset=utf-8$/],
      ['/docs/stylesheets/spectaql.min.css', /^text\/css; charset=utf-8$/],
      ['/docs/javascripts/spectaql.min.js', /^(text|application)\/javascript; charset=utf-8$/],
    ];
    for (const [url, contentType] of expected) {
      const response = await fetch(`${gateway.url}${url}`);
      expect(response.status, url).toBe(200);
      expect(response.headers.get('content-type'), url).toMatch(contentType);
      expect(response.headers.get('cache-control'), url).toBe('public, no-cache');
      expect(response.headers.get('x-content-type-options'), url).toBe('nosniff');
      const etag = response.headers.get('etag');
      expect(etag, url).toBeTruthy();
      // fetch() adds `cache-control: no-cache` to a conditional request unless given one; a browser revalidating sends max-age=0
      const again = await fetch(`${gateway.url}${url}`, { headers: { 'if-none-match': etag!, 'cache-control': 'max-age=0' } });
      expect(again.status, url).toBe(304);
    }
  });

  it('answers 404 for a file that is not there, and leaves GraphQL alone', async () => {
    expect((await fetch(`${gateway.url}/docs/nothing.html`)).status).toBe(404);
    expect((await fetch(`${gateway.url}/docs/../package.json`)).status).toBe(404);
  });
});

/** What a reader sees of an SDL description: the Markdown backticks rendered away, lines joined. */
const rendered = (description: string | null | undefined): string => (description ?? '').replace(/`/g, '').replace(/\s+/g, ' ').trim();
const text = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).innerText()).replace(/\s+/g, ' ').trim();

describe.skipIf(!hasChromium)('the docs in a browser', () => {
  it('navigates to Coin, markets and history, shows their SDL descriptions, with no console error and no request elsewhere', async () => {
    const schema = apiSchema();
    const coinType = schema.getType('Coin');
    if (!isObjectType(coinType)) throw new Error('no Coin type');
    const descriptions = {
      coin: rendered(coinType.description),
      markets: rendered(schema.getQueryType()?.getFields().markets?.description),
      history: rendered(coinType.getFields().history?.description),
    };
    for (const description of Object.values(descriptions)) expect(description.length).toBeGreaterThan(20);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    const foreign: string[] = [];
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'data:' || url.hostname === '127.0.0.1') return route.continue();
      foreign.push(route.request().url());
      return route.abort();
    });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText ?? ''}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });

    try {
      await page.goto(`${gateway.url}/docs`, { waitUntil: 'load' });
      expect(page.url()).toBe(`${gateway.url}/docs/`);
      expect(await page.title()).toBe('Crypto Aggregator GraphQL API');
      // the stylesheet applied: the nav is a sidebar beside the content, not stacked above it
      const [sidebar, content] = await Promise.all([page.locator('#sidebar').boundingBox(), page.locator('#content').boundingBox()]);
      expect(sidebar && content && sidebar.x + sidebar.width <= content.x).toBe(true);

      /** the element's top is in the upper half of the viewport: the link scrolled to it */
      const inView = async (selector: string) => {
        const box = await page.locator(selector).boundingBox();
        return box !== null && box.y >= -2 && box.y < 450;
      };

      await page.click('#nav a[href="#definition-Coin"]');
      await page.waitForURL(/#definition-Coin$/);
      await expect.poll(() => inView('#definition-Coin')).toBe(true);
      expect(await text(page, '#definition-Coin .definition-description > p')).toBe(descriptions.coin);

      const history = page.locator('#definition-Coin tr', { has: page.locator('.property-name code', { hasText: /^history$/ }) });
      await history.scrollIntoViewIfNeeded();
      expect(await history.isVisible()).toBe(true);
      expect((await history.locator('td').nth(1).innerText()).replace(/\s+/g, ' ').trim()).toBe(descriptions.history);

      // the nav shows a section's entries once it is reached: open Queries first, as a reader would
      await page.click('#nav a[href="#group-Operations-Queries"]');
      await page.click('#nav a[href="#query-markets"]');
      await page.waitForURL(/#query-markets$/);
      await expect.poll(() => inView('#query-markets')).toBe(true);
      expect(await text(page, '#query-markets .operation-description > p')).toBe(descriptions.markets);
      // the generated example shows real data (from the contract run), not SpectaQL's placeholders
      expect(await text(page, '#query-markets .operation-variables-example')).toContain('"currency": "usd"');
      expect(await text(page, '#query-markets .operation-response-example')).toContain('"totalCount": 250');
      mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT });

      await page.click('#nav a[href="#introduction-item-0"]');
      await expect.poll(() => inView('#introduction-item-0')).toBe(true);
      expect(await text(page, '#introduction-item-0 .introduction-item-title')).toBe('Example: Markets');
      expect(await text(page, '#introduction-item-0 .doc-examples')).toContain('"id": "bitcoin"');
    } finally {
      await context.close();
    }
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  });
});
