import type { Knex } from 'knex';
import * as initial from '../migrations/20261126000000_initial.js';
import * as latestQuotesWithoutFk from '../migrations/20261126120000_latest_quotes_without_fk.js';
import * as utcPartitions from '../migrations/20261203100000_utc_partitions.js';
import * as metadataFailedAt from '../migrations/20261203100100_metadata_failed_at.js';
import * as marketListings from '../migrations/20261203110000_market_listings.js';
import * as historyRollups from '../migrations/20261203130000_history_rollups.js';
import * as exchangeSources from '../migrations/20261203140000_exchange_sources.js';
import * as retentionStatus from '../migrations/20261203150000_retention_status.js';
import * as rollupsFillfactor from '../migrations/20261203150100_rollups_fillfactor.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/*
 * Migrations are imported statically rather than found on disk by knex, so the
 * same list works under tsx, vitest and compiled JavaScript alike.
 */
const MIGRATIONS: Record<string, Migration> = {
  '20261126000000_initial': initial,
  '20261126120000_latest_quotes_without_fk': latestQuotesWithoutFk,
  '20261203100000_utc_partitions': utcPartitions,
  '20261203100100_metadata_failed_at': metadataFailedAt,
  '20261203110000_market_listings': marketListings,
  '20261203130000_history_rollups': historyRollups,
  '20261203140000_exchange_sources': exchangeSources,
  '20261203150000_retention_status': retentionStatus,
  '20261203150100_rollups_fillfactor': rollupsFillfactor,
};

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve(Object.keys(MIGRATIONS).sort()),
  getMigrationName: (name) => name,
  getMigration: (name) => {
    const migration = MIGRATIONS[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return Promise.resolve(migration);
  },
};

export const migrationConfig: Knex.MigratorConfig = { migrationSource, tableName: 'knex_migrations' };

/** Applies every pending migration; returns the names applied (empty when up to date). */
export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationConfig)) as [number, string[]];
  return applied;
}

/** Rolls back the last batch (the migrations one `latest` applied), knex's convention; returns the names rolled back. */
export async function migrateRollback(db: Knex): Promise<string[]> {
  const [, rolledBack] = (await db.migrate.rollback(migrationConfig, false)) as [number, string[]];
  return rolledBack;
}

/** Rolls back every applied migration; returns the names rolled back. */
export async function migrateRollbackAll(db: Knex): Promise<string[]> {
  const [, rolledBack] = (await db.migrate.rollback(migrationConfig, true)) as [number, string[]];
  return rolledBack;
}
