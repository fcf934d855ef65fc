/**
 * The embedded PostgreSQL of `npm start` when DATABASE_URL is unset, kept by
 * a process of its own. The server is this process's child, so it is in this
 * process group, not the terminal's: Ctrl-C reaches the supervisor alone,
 * which stops this process last, after every service has drained (PostgreSQL
 * itself would take a terminal's SIGINT as "fast shutdown" and cut the
 * queries of the requests still in flight).
 */
import { createLogger } from '@cryptoagg/core';
import { resolveDatabase } from '@cryptoagg/db';
import { config } from './config.js';

const logger = createLogger('postgres', config.LOG_LEVEL);
const server = await resolveDatabase(undefined, (line) => logger.debug({ postgres: line.trim() }));
process.send?.({ url: server.url });

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ error: error instanceof Error ? error.message : String(error) }, 'stopping PostgreSQL failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The IPC channel closes when the supervisor exits: the server must not outlive it.
process.on('disconnect', stop);
