import { types } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { baseDataSourceOptions } from './data-source-options';
import { EmbeddedPostgres } from './embedded-postgres';
import { ManagedDataSource } from './managed-data-source';

/**
 * The one database code path: PostgreSQL from DATABASE_URL, or else the embedded PGlite served over a
 * unix socket. Either way TypeORM's ordinary postgres driver talks to it; migrations and seeds run here.
 */
// A SQL `date` (a period start) stays the string '2026-11-01': a JS Date would shift it by the local zone.
types.setTypeParser(types.builtins.DATE, (value: string) => value);

export async function openDataSource(config: AppConfig): Promise<ManagedDataSource> {
  let embedded: EmbeddedPostgres | undefined;
  let connection: Partial<DataSourceOptions>;
  if (config.databaseUrl) {
    connection = { url: config.databaseUrl, extra: { max: config.databasePoolSize } } as Partial<DataSourceOptions>;
  } else {
    embedded = await EmbeddedPostgres.start(config.dataDir);
    // PGlite is ONE session behind the socket, and the socket server interleaves the extended-protocol
    // messages of concurrent connections (their unnamed statements and portals clobber each other:
    // "portal does not exist"). One pooled connection serializes every query and transaction instead.
    connection = { ...embedded.connectionOptions, extra: { max: 1 } } as Partial<DataSourceOptions>;
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
