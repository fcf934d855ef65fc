import { DATA_CHANGED_CHANNEL, type Knex } from '@cryptoagg/db';
import type { Logger } from '@cryptoagg/core';
import type { DataVersionSource } from '@cryptoagg/http';
import pg from 'pg';

/**
 * The data version every cache key carries: the number of the newest committed
 * write (a finished fetcher run's id; see `read`), the same number the fetcher
 * publishes in Redis for the gateway. It moves the moment the commit NOTIFYs, and a poll
 * every `pollMs` backs that up (a LISTEN connection can drop unnoticed). A
 * gateway that has seen a newer version (in Redis) asks for it in its
 * request, and `atLeast` reads it at once instead of waiting for either.
 */
export interface DataVersion extends DataVersionSource {
  current(): number;
  refresh(): Promise<void>;
  /** reads the version again when `min` is newer than the one known; resolves once read (it may still be older: the caller was wrong) */
  atLeast(min: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * How long a version asked for and not found in PostgreSQL is not looked for again: a gateway that
 * believes a wrong version (a Redis key left by another database) costs one query per this, not one per
 * request.
 */
const UNREACHABLE_RETRY_MS = 1_000;

export async function trackDataVersion(db: Knex, url: string, logger: Logger, pollMs = 500): Promise<DataVersion> {
  let version = 0;
  let closed = false;
  let listener: pg.Client | undefined;
  const listeners = new Set<(version: number) => void>();
  /** the read in progress: concurrent callers share it */
  let reading: Promise<void> | undefined;
  let unreachable: { min: number; at: number } | undefined;

  async function read(): Promise<void> {
    // Exchange sources commit after their run's CoinGecko part, each with a number from fetch_runs' id
    // sequence (source_runs.version): the newest committed write of either kind is the version.
    const { rows } = await db.raw<{ rows: { max: number | string | null }[] }>(
      `select greatest((select max(id) from fetch_runs where status <> 'running'), (select max(version) from source_runs)) as max`,
    );
    const next = Number(rows[0]?.max ?? 0);
    // Reads never overlap (refresh shares the one in progress), so the last read is the newest. It can
    // go down: a database restored or recreated under a running subgraph.
    if (next === version) return;
    logger.debug({ from: version, to: next }, 'data version changed');
    version = next;
    for (const listener of listeners) listener(next);
  }

  function refresh(): Promise<void> {
    reading ??= read().finally(() => (reading = undefined));
    return reading;
  }

  async function atLeast(min: number): Promise<void> {
    if (min <= version) return;
    if (unreachable && min <= unreachable.min && performance.now() - unreachable.at < UNREACHABLE_RETRY_MS) return;
    // A read already in progress may have started before the version asked for was committed: read after it.
    if (reading) await reading.catch(() => undefined);
    if (min <= version) return;
    await refresh().catch(() => undefined);
    if (min > version) unreachable = { min, at: performance.now() };
  }

  async function listen(): Promise<void> {
    if (closed) return;
    const client = new pg.Client({ connectionString: url, application_name: 'cryptoagg-listen' });
    client.on('notification', () => void refresh().catch(() => undefined));
    client.on('error', () => undefined);
    client.on('end', () => {
      listener = undefined;
      if (!closed) setTimeout(() => void listen().catch(() => undefined), pollMs).unref();
    });
    try {
      await client.connect();
      await client.query(`listen ${DATA_CHANGED_CHANNEL}`);
      listener = client;
      // A run that committed while no one listened is found at once, not at the next poll.
      void refresh().catch(() => undefined);
    } catch {
      await client.end().catch(() => undefined);
    }
  }

  await refresh().catch((error: unknown) => logger.warn({ error: String(error) }, 'could not read the data version yet'));
  await listen();
  const timer = setInterval(() => void refresh().catch(() => undefined), pollMs);
  timer.unref();

  return {
    current: () => version,
    refresh,
    atLeast,
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => {
      closed = true;
      clearInterval(timer);
      await listener?.end().catch(() => undefined);
    },
  };
}
