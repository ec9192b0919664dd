import { Logger } from '@nestjs/common';
import { DataSource, DataSourceOptions } from 'typeorm';
import { seedCatalogue } from '../../seeds/seed-catalogue';
import { assertSchemaName } from './data-source-options';
import type { DatabaseOptions } from './data-source-options';
import { EmbeddedPostgres } from './embedded-postgres';
import { syncSqlFunctions } from './functions';

/** Key of the advisory lock held while migrating and seeding, so two instances starting at once take turns. */
const MIGRATION_LOCK_KEY = 7_301_001;

/**
 * A DataSource that owns the embedded database behind it (when there is one): destroying it closes the
 * pool first and the embedded server after, in that order.
 */
export class ManagedDataSource extends DataSource {
  constructor(
    options: DataSourceOptions,
    private readonly embedded?: EmbeddedPostgres,
    private readonly database: DatabaseOptions & { schema?: string } = {},
  ) {
    super(options);
  }

  /**
   * The schema (when metering has its own), migrations, then the seed catalogue unless turned off, under one
   * advisory lock (PostgreSQL: instances may start together, and CREATE SCHEMA IF NOT EXISTS races too).
   */
  async migrateAndSeed(): Promise<void> {
    if (this.embedded) {
      // One process owns the embedded database (lock file), and its pool has a single connection: a lock
      // held on it would block the migrations themselves.
      await this.runMigrations({ transaction: 'each' });
      await this.syncFunctions();
      if (this.database.seed !== false) await seedCatalogue(this.manager);
      return;
    }
    const runner = this.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      // Before the migrations: every connection's search_path names this schema, and names in a schema
      // that does not exist yet resolve nowhere (TypeORM's migrations table included).
      if (this.database.schema) await runner.query(`CREATE SCHEMA IF NOT EXISTS ${assertSchemaName(this.database.schema)}`);
      await this.runMigrations({ transaction: 'each' });
      await this.syncFunctions();
      if (this.database.seed !== false) await seedCatalogue(this.manager);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      await runner.release();
    }
  }

  /** The SQL functions' bodies as src/database/functions has them (a changed file is applied here, once). */
  private async syncFunctions(): Promise<void> {
    const applied = await syncSqlFunctions(this.manager);
    if (applied.length > 0) new Logger('Database').log(`SQL functions applied from src/database/functions: ${applied.join(', ')}`);
  }

  override async destroy(): Promise<void> {
    try {
      if (this.isInitialized) await super.destroy();
    } finally {
      await this.embedded?.stop();
    }
  }
}
