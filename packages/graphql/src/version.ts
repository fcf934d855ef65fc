import { DATA_CHANGED_CHANNEL, type Knex } from '@cryptoagg/db';
import type { Logger } from '@cryptoagg/core';
import pg from 'pg';

/**
 * The data version every cache key carries: the id of the newest finished
 * fetcher run. It moves the moment the fetcher's commit NOTIFYs, and a poll
 * every `pollMs` backs that up (a LISTEN connection can drop unnoticed), so a
 * finished run invalidates every cached answer within seconds.
 */
export interface DataVersion {
  current(): string;
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export async function trackDataVersion(db: Knex, url: string, logger: Logger, pollMs = 2_000): Promise<DataVersion> {
  let version = '0';
  let closed = false;
  let listener: pg.Client | undefined;

  async function refresh(): Promise<void> {
    const row = await db('fetch_runs').whereNot({ status: 'running' }).max<{ max: number | null }>('id as max').first();
    const next = String(row?.max ?? 0);
    if (next !== version) logger.debug({ from: version, to: next }, 'data version changed');
    version = next;
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
    close: async () => {
      closed = true;
      clearInterval(timer);
      await listener?.end().catch(() => undefined);
    },
  };
}
