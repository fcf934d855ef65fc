import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@cryptoagg/testkit';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/index.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-embedded-'));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await client.end();
  }
}

it('runs a real PostgreSQL whose data survives a restart, and joins a server that is already up', async () => {
  const dataDir = path.join(scratch, 'pg');
  const port = await freePort();
  const first = await startEmbeddedPostgres({ dataDir, port });
  try {
    await query(first.url, 'create table kept (value text); insert into kept values ($$still here$$)');
    const joined = await startEmbeddedPostgres({ dataDir, port });
    expect(joined.url).toBe(first.url);
    await joined.stop();
    // The joiner does not own the server: stopping it leaves the server up.
    expect(await query(first.url, 'select value from kept')).toEqual([{ value: 'still here' }]);
  } finally {
    await first.stop();
  }
  await expect(query(first.url, 'select 1')).rejects.toThrow();

  const second = await startEmbeddedPostgres({ dataDir, port });
  try {
    expect(await query(second.url, 'select value from kept')).toEqual([{ value: 'still here' }]);
    expect(await query(second.url, 'show server_version_num')).toEqual([{ server_version_num: expect.stringMatching(/^17/) as string }]);
  } finally {
    await second.stop();
  }
});
