import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { baseDataSourceOptions } from './data-source-options';
import { EmbeddedPostgres } from './embedded-postgres';
import { ManagedDataSource } from './managed-data-source';

/**
 * The one database code path: PostgreSQL from DATABASE_URL, or else the embedded PGlite served over a
 * unix socket. Either way TypeORM's ordinary postgres driver talks to it; migrations and seeds run here.
 */
export async function openDataSource(config: AppConfig): Promise<ManagedDataSource> {
  let embedded: EmbeddedPostgres | undefined;
  let connection: Partial<DataSourceOptions>;
  if (config.databaseUrl) {
    connection = { url: config.databaseUrl, extra: { max: config.databasePoolSize } } as Partial<DataSourceOptions>;
  } else {
    embedded = await EmbeddedPostgres.start(config.dataDir);
    // PGlite is one session behind the socket: the pool stays below its connection cap, with headroom.
    connection = { ...embedded.connectionOptions, extra: { max: Math.min(config.databasePoolSize, embedded.maxConnections - 2) } } as Partial<DataSourceOptions>;
  }
  const dataSource = new ManagedDataSource({ ...baseDataSourceOptions(), ...connection } as DataSourceOptions, embedded);
  try {
    await dataSource.initialize();
    await dataSource.migrateAndSeed();
    return dataSource;
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}
