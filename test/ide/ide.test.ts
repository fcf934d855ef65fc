/**
 * The GraphQL IDE: GraphiQL served by the gateway at GET /graphql and / to
 * browsers, from the gateway alone (no CDN), the contract operations as tabs;
 * on in development, off in production unless GRAPHQL_IDE=true. The
 * subgraphs show a short page pointing at the gateway instead of Apollo's
 * CDN-loaded landing page.
 */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { createLogger, parseConfig, readContractOperations } from '@cryptoagg/core';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { gatewayConfigSchema, startGateway } from '@cryptoagg/gateway';
import type { RunningService } from '@cryptoagg/http';
import { type Api, createTestDatabase, freePort, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { requireTool } from '@cryptoagg/testkit/tools';
import { Kind, parse } from 'graphql';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleTabs } from '../../gateway/src/ide.js';

/** The operations of a document: name, declared variables, and the required ones (non-null without a default). */
function operationsOf(document: string): { name: string; variables: string[]; required: string[] }[] {
  return parse(document).definitions.flatMap((d) =>
    d.kind === Kind.OPERATION_DEFINITION
      ? [
          {
            name: d.name?.value ?? '',
            variables: (d.variableDefinitions ?? []).map((v) => v.variable.name.value),
            required: (d.variableDefinitions ?? []).filter((v) => v.type.kind === Kind.NON_NULL_TYPE && !v.defaultValue).map((v) => v.variable.name.value),
          },
        ]
      : [],
  );
}
const CONTRACT = operationsOf(readContractOperations());

/** What a browser sends when it navigates to a page. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const TITLE = '<title>Crypto Aggregator GraphQL API</title>';
/** Debian's chromium, as in the docs' browser test. */
const CHROMIUM = '/usr/bin/chromium';

let fake: FakeCoinGecko;
let t: TestDatabase;
let api: Api;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('ide')]);
  const fetched = await runScript('jobs/fetcher/src/main.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: fake.url,
    COINGECKO_RATE_LIMIT_PER_MIN: '10000',
    FETCH_MAX_COINS: '20',
    FETCH_CURRENCIES: 'usd',
    LOG_LEVEL: 'warn',
  });
  expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
  // No NODE_ENV: development, where the IDE is on by default.
  api = await startApi({ DATABASE_URL: t.url, FETCH_CURRENCIES: 'usd' });
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await Promise.all([fake?.close(), t?.destroy()]);
});

const get = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers: { accept: BROWSER_ACCEPT, 'accept-encoding': 'identity', ...headers } });

/** The bytes as sent (fetch() would decompress them). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

/** A gateway of its own (no subgraphs needed to serve a page) with the given environment. */
async function gatewayWith(env: Record<string, string>): Promise<RunningService> {
  const config = parseConfig(gatewayConfigSchema, { HOST: '127.0.0.1', GATEWAY_PORT: String(await freePort()), LOG_LEVEL: 'silent', ...env });
  if (!config.ok) throw new Error(config.errors.join('\n'));
  return startGateway(config.config, createLogger('test-ide', 'silent'));
}

describe('the IDE page', () => {
  it('is served at /graphql and / to a browser, self-contained: no script, stylesheet or font from anywhere else', async () => {
    for (const path of ['/graphql', '/']) {
      const response = await get(`${api.gateway.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toBe('text/html; charset=utf-8');
      const html = await response.text();
      expect(html, path).toContain(TITLE);
      expect(html.length, path).toBeGreaterThan(5_000_000);
      // Every script and style is inline: no element loads from another host (a CDN's or any other).
      expect(html.match(/<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?\/\//gi), path).toBeNull();
      expect(html, path).not.toContain('cdn.jsdelivr.net');
      expect(html, path).not.toContain('apollographql.com');
    }
  });

  it('opens the contract operations as tabs, with example variables, sending to /graphql with the CSRF header', async () => {
    const html = await (await get(`${api.gateway.url}/graphql`)).text();
    const options = JSON.parse(
      /YogaGraphiQL\.renderYogaGraphiQL\(\s*window\.document\.querySelector\('#root'\),\s*(\{.*\}),\s*\);/s.exec(html)?.[1] ?? 'null',
    ) as {
      endpoint: string;
      additionalHeaders: Record<string, string>;
      defaultTabs: { query: string; variables: string }[];
    };
    expect(options.endpoint).toBe('/graphql');
    expect(options.additionalHeaders).toEqual({ 'apollo-require-preflight': 'true' });
    // One tab per contract operation, in the contract's order, each holding its operation exactly as the contract writes it.
    expect(options.defaultTabs.map((tab) => operationsOf(tab.query).map((o) => o.name))).toEqual(CONTRACT.map((o) => [o.name]));
    expect(CONTRACT.map((o) => o.name)).toEqual(expect.arrayContaining(['Markets', 'CoinHistory']));
    for (const tab of options.defaultTabs) expect(readContractOperations()).toContain(tab.query);
    // Variables: every required one has an example, nothing the operation does not declare.
    for (const tab of options.defaultTabs) {
      const [operation] = operationsOf(tab.query);
      const given = Object.keys(JSON.parse(tab.variables) as object);
      expect(
        given.filter((name) => !operation!.variables.includes(name)),
        operation!.name,
      ).toEqual([]);
      expect(
        operation!.required.filter((name) => !given.includes(name)),
        operation!.name,
      ).toEqual([]);
    }
    expect(JSON.parse(options.defaultTabs[0]!.variables)).toEqual({ first: 10 });
  });

  it('has example variables that run: every tab answers through the gateway without an error', async () => {
    for (const tab of exampleTabs(readContractOperations())) {
      const response = await fetch(`${api.gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true' },
        body: JSON.stringify({ query: tab.query, variables: JSON.parse(tab.variables) as unknown }),
      });
      const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown };
      expect(body.errors, tab.query.split('(')[0]).toBeUndefined();
      expect(Object.values(body.data ?? {})[0], tab.query.split('(')[0]).not.toBeNull();
    }
  });

  it('revalidates with its ETag (304) and is sent gzipped when the browser accepts it', async () => {
    const plain = await get(`${api.gateway.url}/graphql`);
    const body = await plain.text();
    expect(plain.headers.get('cache-control')).toBe('no-cache');
    const etag = plain.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    // fetch() adds `cache-control: no-cache` to a conditional request unless given one; a browser revalidating sends max-age=0
    const again = await get(`${api.gateway.url}/graphql`, { 'if-none-match': etag!, 'cache-control': 'max-age=0' });
    expect(again.status).toBe(304);

    const zipped = await rawGet(`${api.gateway.url}/graphql`, { accept: BROWSER_ACCEPT, 'accept-encoding': 'gzip, deflate, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.etag).toBe(`${etag!.slice(0, -1)}-gzip"`);
    expect(zipped.body.length).toBeLessThan(body.length / 3);
    expect(gunzipSync(zipped.body).toString()).toBe(body);
  });

  it('leaves GraphQL alone: a GET query from a client, and a GET without one from curl, get GraphQL answers', async () => {
    const query = await fetch(`${api.gateway.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(query.status).toBe(200);
    expect(await query.json()).toEqual({ data: { __typename: 'Query' } });
    // curl's default Accept is */*: JSON wins, and Apollo says what is missing.
    const curl = await fetch(`${api.gateway.url}/graphql`, { headers: { accept: '*/*' } });
    expect(curl.status).toBe(400);
    expect(curl.headers.get('content-type')).toMatch(/^application\/json/);
    const posted = await fetch(`${api.gateway.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: BROWSER_ACCEPT },
      body: JSON.stringify({ query: '{ fetchStatus { coinsUpdated } }' }),
    });
    expect(await posted.json()).toEqual({ data: { fetchStatus: { coinsUpdated: 20 } } });
  });

  it('is off in production, on there with GRAPHQL_IDE=true, and off in development with GRAPHQL_IDE=false', async () => {
    const production = { NODE_ENV: 'production', SUBGRAPH_SECRET: 'a-secret-of-16-chars-or-more', DATABASE_URL: t.url };
    const cases: [Record<string, string>, boolean][] = [
      [production, false],
      [{ ...production, GRAPHQL_IDE: 'true' }, true],
      [{ GRAPHQL_IDE: 'false' }, false],
      [{ GRAPHQL_IDE: 'true' }, true],
    ];
    for (const [env, served] of cases) {
      const gateway = await gatewayWith(env);
      try {
        const response = await get(`${gateway.url}/graphql`);
        const text = await response.text();
        expect(text.includes(TITLE), JSON.stringify(env)).toBe(served);
        // Off means GraphQL's own answer, never Apollo's CDN landing page.
        if (!served) {
          expect(response.status).toBe(400);
          expect(text).not.toContain('apollographql.com');
        }
      } finally {
        await gateway.stop();
      }
    }
  });

  it('GRAPHQL_IDE takes only true or false', () => {
    const result = parseConfig(gatewayConfigSchema, { GRAPHQL_IDE: 'yes' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors).toEqual(['invalid configuration: GRAPHQL_IDE: Invalid option: expected one of "true"|"false"']);
  });
});

describe('the subgraphs', () => {
  it('show browsers a short page pointing at the gateway, not Apollo Sandbox from a CDN', async () => {
    for (const name of ['coins', 'prices']) {
      const response = await get(`${api.service(name).url}/graphql`);
      expect(response.status, name).toBe(200);
      const html = await response.text();
      expect(html, name).toContain(`<title>${name} subgraph · Crypto Aggregator</title>`);
      expect(html, name).toContain('<a href="http://localhost:4000/graphql">');
      expect(html.length, name).toBeLessThan(2_000);
      expect(html, name).not.toContain('<script');
    }
  });
});

describe.skipIf(!requireTool('chromium'))('the IDE in a browser, with the network cut', () => {
  let browser: Browser;
  beforeAll(async () => {
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
  });

  it('loads from the gateway alone, runs Markets from its first tab and shows the data', async () => {
    const origin = new URL(api.gateway.url).origin;
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const foreign: string[] = [];
    const problems: string[] = [];
    // Everything but the gateway's origin is cut off, as on a laptop without internet.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('data:') || url.startsWith('blob:') || new URL(url).origin === origin) return route.continue();
      foreign.push(url);
      return route.abort('internetdisconnected');
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    const graphql: { headers: Record<string, string>; operationName: unknown }[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url() === `${origin}/graphql`) {
        graphql.push({ headers: request.headers(), operationName: (request.postDataJSON() as { operationName?: unknown }).operationName });
      }
    });

    try {
      await page.goto(`${origin}/`, { waitUntil: 'load' });
      expect(await page.title()).toBe('Crypto Aggregator GraphQL API');
      // The tabs are the contract's operations, the first (Markets) open.
      const tabs = page.locator('.graphiql-tab');
      await expect.poll(() => tabs.allInnerTexts(), { timeout: 30_000 }).toEqual(CONTRACT.map((o) => o.name));
      expect(CONTRACT[0]?.name).toBe('Markets');
      await page.locator('.graphiql-execute-button').click();
      const result = page.locator('.result-window');
      await expect.poll(async () => (await result.innerText()).replace(/\s+/g, ' '), { timeout: 30_000 }).toContain('"totalCount": 20');
      const bitcoin = fake.markets('usd')[0]!;
      const shown = (await result.innerText()).replace(/\s+/g, ' ');
      expect(shown).toContain(`"id": "${bitcoin.id}"`);
      expect(shown).toContain(`"name": "${bitcoin.name}"`);
    } finally {
      await context.close();
    }
    expect(graphql.find((request) => request.operationName === 'Markets')?.headers['apollo-require-preflight']).toBe('true');
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
  });
});
