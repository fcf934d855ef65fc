import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { RequestHandler } from 'express';

const gzipAsync = promisify(gzip);

/**
 * A browser's GET on a GraphQL path: it prefers text/html over every GraphQL
 * answer type (a GraphQL client asks for JSON or `*\/*`). A `query` parameter
 * does not make it a GraphQL request: GraphiQL writes the edited query into the
 * address bar, and a navigation can never carry the CSRF header Apollo wants.
 */
const wantsHtml = (accepts: (types: string[]) => string | false): boolean =>
  accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';

/**
 * Serves `html` to browsers on the GraphQL paths and passes every other request
 * on. The page is kept in memory with an ETag (a reload costs a 304) and sent
 * gzipped when the browser accepts it: GraphiQL's page is ~9 MB of inline
 * script, ~2.4 MB gzipped, compressed once, off the event loop, on first use.
 */
export function landingPage(html: string): RequestHandler {
  const body = Buffer.from(html);
  const tag = createHash('sha256').update(body).digest('base64url').slice(0, 27);
  let gzipped: Promise<Buffer> | undefined;
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !wantsHtml((types) => req.accepts(types))) return next();
    const compress = req.acceptsEncodings(['gzip', 'identity']) === 'gzip';
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Vary', 'Accept, Accept-Encoding');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('ETag', `"${tag}${compress ? '-gzip' : ''}"`);
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    if (!compress) {
      res.send(body);
      return;
    }
    gzipped ??= gzipAsync(body);
    gzipped.then((data) => {
      res.setHeader('Content-Encoding', 'gzip');
      res.send(data);
    }, next);
  };
}
