import { pino, type DestinationStream, type Logger } from 'pino';
import { SUBGRAPH_SECRET_HEADER } from './config.js';

export type { Logger };

/** Paths never written to logs: credentials in config, headers and errors. */
const REDACT = [
  'config.databaseUrl',
  'config.redisUrl',
  'config.coingeckoApiKey',
  'config.subgraphSecret',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-cg-demo-api-key"]',
  'req.headers["x-cg-pro-api-key"]',
  `req.headers["${SUBGRAPH_SECRET_HEADER}"]`,
  '*.password',
];

export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Replaces the password of any URL inside a message, for errors that quote a connection string. */
export function redactUrls(message: string): string {
  return message.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#\s]*:)([^@\s]+)@/gi, '$1[redacted]@');
}
