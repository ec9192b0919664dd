import { DataSource, DataSourceOptions } from 'typeorm';
import { seedCatalogue } from '../../seeds/seed-catalogue';
import { EmbeddedPostgres } from './embedded-postgres';

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
  ) {
    super(options);
  }

  /** Migrations, then the seed catalogue, under one advisory lock (PostgreSQL: instances may start together). */
  async migrateAndSeed(): Promise<void> {
    if (this.embedded) {
      // One process owns the embedded database (lock file), and its pool has a single connection: a lock
      // held on it would block the migrations themselves.
      await this.runMigrations({ transaction: 'each' });
      await seedCatalogue(this.manager);
      return;
    }
    const runner = this.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await this.runMigrations({ transaction: 'each' });
      await seedCatalogue(this.manager);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      await runner.release();
    }
  }

  override async destroy(): Promise<void> {
    try {
      if (this.isInitialized) await super.destroy();
    } finally {
      await this.embedded?.stop();
    }
  }
}
