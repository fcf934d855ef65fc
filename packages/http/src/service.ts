import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApolloServer, ApolloServerPlugin, BaseContext } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { redactUrls, SUBGRAPH_SECRET_HEADER, type Logger } from '@cryptoagg/core';
import express, { type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { isUnexpectedError } from './apollo.js';
import { requestMetrics } from './metrics.js';
import { DATA_VERSION_HEADER, requestVersion, responseCache, type DataVersionSource, type ResponseCacheOptions } from './response-cache.js';
import { readiness } from './readiness.js';
import { landingPage } from './landing-page.js';

export interface ServiceOptions<TContext extends BaseContext> {
  name: string;
  logger: Logger;
  /** the process's registry; default process metrics are added to it once */
  registry: Registry;
  /** builds the ApolloServer; must include the given plugins (drain, disabled reporting, error log) */
  buildApollo(plugins: ApolloServerPlugin<TContext>[]): ApolloServer<TContext>;
  context(args: { req: express.Request }): Promise<TContext>;
  /** dependency checks for /readyz: a check is down when it rejects, resolves false or takes over 2 s */
  readiness: Record<string, () => Promise<boolean | void>>;
  /** operation names the request metrics count by name (the contract's); any other counts as "other". Default none */
  operations?: readonly string[];
  /** when set, GraphQL requests must carry it in the SUBGRAPH_SECRET_HEADER */
  subgraphSecret?: string | undefined;
  /** extra paths that also serve GraphQL, e.g. ['/'] for the gateway */
  extraGraphqlPaths?: string[];
  /** static folders served (GET/HEAD) under a URL prefix, e.g. { '/docs': '<repo>/docs/site' }; a missing folder answers 404 */
  staticRoutes?: Record<string, string>;
  /** called after the HTTP server has drained, to close pools */
  onClose?: () => Promise<void>;
  /** how long in-flight requests get to finish on stop(); default 10 s */
  drainMs?: number;
  /** whole-response caching, keyed by `dataVersion` when set; off when unset */
  responseCache?: ResponseCacheOptions | undefined;
  /**
   * the data version the service answers from: sent on every GraphQL answer and on /healthz
   * (DATA_VERSION_HEADER), read again first when a request says its caller has seen a newer one (when the
   * source can), and the key of the response cache
   */
  dataVersion?: DataVersionSource | undefined;
  /**
   * the HTML page browsers get on the GraphQL paths (a GET that prefers text/html), e.g. the gateway's IDE; Apollo's own
   * landing page, which loads Apollo Sandbox from a CDN, is off. Unset, such a GET gets GraphQL's answer (a 400)
   */
  landingPage?: string | undefined;
  /** slow-client limits; defaults: headers within 10 s, a whole request within 30 s, idle keep-alive 5 s */
  timeouts?: { headersMs?: number; requestMs?: number; keepAliveMs?: number };
}

export interface RunningService {
  /** origin without a path, e.g. http://127.0.0.1:4001 */
  url: string;
  port: number;
  stop(): Promise<void>;
  server: http.Server;
  /** origin of the separate /metrics listener, when `listen.metricsPort` was set */
  metricsUrl?: string;
}

const BODY_LIMIT = '1mb';
const BODY_LIMIT_BYTES = 1024 * 1024;

function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

const headerValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** Hashing first gives equal lengths, which timingSafeEqual needs, without leaking the secret's length. */
function secretMatches(given: string | undefined, secret: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return given !== undefined && timingSafeEqual(digest(given), digest(secret));
}

/** The stack (which starts with the message) with passwords in URLs replaced, for error logs. */
function describeError(error: unknown): string {
  return redactUrls(error instanceof Error ? (error.stack ?? error.message) : String(error));
}

function errorCode(error: unknown): unknown {
  return error instanceof Error && 'extensions' in error && typeof error.extensions === 'object' && error.extensions !== null && 'code' in error.extensions
    ? error.extensions.code
    : undefined;
}

function errorLog<TContext extends BaseContext>(logger: Logger): ApolloServerPlugin<TContext> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didEncounterErrors: ({ errors }) => {
          for (const error of errors.filter((e) => isUnexpectedError(e.extensions?.code))) {
            logger.error({ error: describeError(unwrapResolverError(error)), path: error.path }, 'unexpected error while executing an operation');
          }
          return Promise.resolve();
        },
      }),
  };
}

/** body-parser's errors are http-errors objects: a status, a type and a message meant for the client. */
function clientError(error: unknown): { status: number; type: string; message: string } | undefined {
  if (!(error instanceof Error) || !('status' in error) || !('expose' in error) || error.expose !== true) return undefined;
  const status = typeof error.status === 'number' ? error.status : 500;
  const type = 'type' in error && typeof error.type === 'string' ? error.type : '';
  return status >= 400 && status < 500 ? { status, type, message: error.message } : undefined;
}

export async function startService<TContext extends BaseContext>(
  options: ServiceOptions<TContext>,
  // metricsPort: /metrics is served there only, on a listener of its own that no public route reaches (Kubernetes sets
  // METRICS_PORT); unset, /metrics is a route of the service's own port (local runs).
  listen: { port: number; host?: string; metricsPort?: number | undefined },
): Promise<RunningService> {
  const { logger, registry } = options;
  const app = express();
  app.disable('x-powered-by');
  // No hash of every answer for a weak ETag: the response cache sets a strong one on the answers it keeps.
  app.set('etag', false);
  const { subgraphSecret, dataVersion } = options;
  const graphqlPaths = ['/graphql', ...(options.extraGraphqlPaths ?? [])];
  const cache = options.responseCache
    ? responseCache(
        options.responseCache,
        {
          paths: graphqlPaths,
          bodyLimit: BODY_LIMIT_BYTES,
          // A request without the secret is never answered from memory: express refuses it.
          admitted: (req) => subgraphSecret === undefined || secretMatches(headerValue(req.headers[SUBGRAPH_SECRET_HEADER]), subgraphSecret),
          version: dataVersion,
        },
        registry,
        options.operations ?? [],
      )
    : undefined;
  // Slow or idle clients must not hold sockets (and a drain) open indefinitely. Node checks these
  // limits only every connectionsCheckingInterval (30 s by default), so it checks every second here.
  // Cached answers are sent before express (no routing, no body parsing); everything else goes through it.
  const server = http.createServer({ connectionsCheckingInterval: 1_000 }, cache ? (req, res) => cache.handle(req, res, () => void app(req, res)) : app);
  server.requestTimeout = options.timeouts?.requestMs ?? 30_000;
  server.headersTimeout = options.timeouts?.headersMs ?? 10_000;
  server.keepAliveTimeout = options.timeouts?.keepAliveMs ?? 5_000;

  if (!registry.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics({ register: registry });

  const apollo = options.buildApollo([
    ApolloServerPluginDrainHttpServer({ httpServer: server, stopGracePeriodMillis: options.drainMs ?? 10_000 }),
    ApolloServerPluginInlineTraceDisabled(),
    ApolloServerPluginUsageReportingDisabled(),
    // Apollo's landing page loads Apollo Sandbox from a CDN (blank offline): `landingPage` serves ours instead.
    ApolloServerPluginLandingPageDisabled(),
    // Cache hints are unused (caching is ours); Apollo's plugin wraps every field resolver to collect them (~7% of a markets page).
    ApolloServerPluginCacheControlDisabled(),
    errorLog<TContext>(logger),
    requestMetrics<TContext>(registry, options.operations ?? []),
  ]);
  await apollo.start();

  const ready = readiness(options.readiness, logger);
  app.get('/healthz', (_req, res) => {
    // The gateway polls it for the subgraphs' data version: cheaper than a GraphQL request, and uncounted.
    if (dataVersion) res.setHeader(DATA_VERSION_HEADER, dataVersion.current());
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (req, res) => {
    const exclude = typeof req.query.exclude === 'string' ? req.query.exclude.split(',') : [];
    const report = await ready(exclude);
    res.status(report.ready ? 200 : 503).json(report.body);
  });
  if (listen.metricsPort === undefined) {
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }

  const requireSecret: RequestHandler = (req, res, next) => {
    if (subgraphSecret === undefined || secretMatches(req.get(SUBGRAPH_SECRET_HEADER), subgraphSecret)) return next();
    sendError(res, 401, 'UNAUTHENTICATED', `Missing or wrong ${SUBGRAPH_SECRET_HEADER} header`);
  };
  const rejectBatches: RequestHandler = (req, res, next) => {
    if (!Array.isArray(req.body)) return next();
    sendError(res, 400, 'BAD_REQUEST', 'Batched requests (a JSON array body) are not supported: send one operation per request');
  };
  // Every answer says which data version it comes from (the response cache puts the one it was computed from).
  const versionStep: RequestHandler = (req, res, next) => {
    requestVersion(req, dataVersion).then((state) => {
      res.setHeader(DATA_VERSION_HEADER, state.version);
      next();
    }, next);
  };
  const json = express.json({ limit: BODY_LIMIT });
  if (options.landingPage !== undefined) app.get(graphqlPaths, landingPage(options.landingPage));
  app.all(
    graphqlPaths,
    requireSecret,
    cache ? cache.bodyParser(json) : json,
    rejectBatches,
    ...(dataVersion ? [versionStep] : []),
    ...(cache ? [cache.middleware] : []),
    expressMiddleware(apollo, {
      // Apollo answers a failing context with a 500 but neither logs it nor passes it to plugins.
      context: async ({ req }) => {
        try {
          return await options.context({ req });
        } catch (error) {
          if (isUnexpectedError(errorCode(error))) logger.error({ error: describeError(error) }, 'building the request context failed');
          throw error;
        }
      },
    }),
  );

  for (const [prefix, folder] of Object.entries(options.staticRoutes ?? {})) {
    app.use(
      prefix,
      express.static(folder, {
        // `/docs` -> 301 `/docs/`, so that the pages' relative links resolve under the prefix
        redirect: true,
        dotfiles: 'ignore',
        // Generated files keep their names across builds: clients revalidate (ETag, Last-Modified) instead of caching blindly.
        setHeaders: (res) => {
          res.setHeader('Cache-Control', 'public, no-cache');
          res.setHeader('X-Content-Type-Options', 'nosniff');
        },
      }),
    );
  }

  app.use((_req, res) => sendError(res, 404, 'NOT_FOUND', 'Not found'));
  const onError: ErrorRequestHandler = (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const client = clientError(error);
    if (client?.type === 'entity.too.large') return sendError(res, 413, 'PAYLOAD_TOO_LARGE', 'Request body larger than 1 MB');
    if (client?.type === 'entity.parse.failed') return sendError(res, 400, 'BAD_REQUEST', `Malformed JSON body: ${client.message}`);
    if (client) return sendError(res, client.status, 'BAD_REQUEST', client.message);
    logger.error({ error: describeError(error), method: req.method, path: req.path }, 'request failed');
    sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
  };
  app.use(onError);

  const host = listen.host ?? '0.0.0.0';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await apollo.stop();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;

  let metricsServer: http.Server | undefined;
  if (listen.metricsPort !== undefined) {
    try {
      metricsServer = await listenForMetrics(registry, listen.metricsPort, host);
    } catch (error) {
      await apollo.stop();
      throw error;
    }
  }
  const closeMetrics = () =>
    new Promise<void>((resolve) => {
      if (metricsServer === undefined) resolve();
      else metricsServer.close(() => resolve());
    });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    // apollo.stop() runs the drain plugin first: close the listener, wait for in-flight requests.
    // Metrics stay scrapeable while the requests drain.
    stopping ??= apollo
      .stop()
      .then(closeMetrics)
      .then(() => options.onClose?.());
    return stopping;
  };
  const metricsPort = metricsServer === undefined ? undefined : (metricsServer.address() as AddressInfo).port;
  logger.info({ port, ...(metricsPort === undefined ? {} : { metricsPort }) }, `${options.name} listening`);
  return {
    url: `http://${urlHost}:${port}`,
    port,
    stop,
    server,
    ...(metricsPort === undefined ? {} : { metricsUrl: `http://${urlHost}:${metricsPort}` }),
  };
}

/** The /metrics listener of METRICS_PORT: GET (and HEAD) /metrics, 404 for anything else. */
async function listenForMetrics(registry: Registry, port: number, host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] }));
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

let signalsInstalled = false;

/** SIGTERM/SIGINT: stop once, exit 0 (1 if stopping failed). Repeated signals, e.g. Ctrl-C reaching a child twice, are ignored. */
export function stopOnSignals(service: RunningService, logger: Logger): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ error: describeError(error) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
