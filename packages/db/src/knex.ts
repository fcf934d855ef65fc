import knex, { type Knex } from 'knex';
import pg from 'pg';

// bigint counts (count(*), identity ids) fit comfortably in a JS number here.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// A calendar date (genesis_date) has no time zone: keep PostgreSQL's YYYY-MM-DD instead of a local-midnight Date.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

export type { Knex };

export interface DbOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
  /** statement_timeout in ms for every connection; 0 = none */
  statementTimeoutMs?: number;
}

export function createDb({ url, poolMax = 10, applicationName = 'cryptoagg', statementTimeoutMs = 0 }: DbOptions): Knex {
  return knex({
    client: 'pg',
    connection: {
      connectionString: url,
      application_name: applicationName,
      connectionTimeoutMillis: 5_000,
      ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 10_000,
  });
}
