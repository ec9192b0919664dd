import { types } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { baseDataSourceOptions, schemaConnectionOptions } from './data-source-options';
import type { DatabaseOptions } from './data-source-options';
import { EmbeddedPostgres } from './embedded-postgres';
import { ManagedDataSource } from './managed-data-source';

/**
 * The one database code path: PostgreSQL from DATABASE_URL, or else the embedded PGlite served over a
 * unix socket. Either way TypeORM's ordinary postgres driver talks to it; migrations and seeds run here.
 */
// A SQL `date` (a period start) stays the string '2026-11-01': a JS Date would shift it by the local zone.
types.setTypeParser(types.builtins.DATE, (value: string) => value);

export async function openDataSource(config: AppConfig, database: DatabaseOptions = {}): Promise<ManagedDataSource> {
  let embedded: EmbeddedPostgres | undefined;
  let connection: Partial<DataSourceOptions>;
  if (config.databaseUrl) {
    const pool = { max: config.databasePoolSize };
    connection = { url: config.databaseUrl, ...(config.databaseSchema ? schemaConnectionOptions(config.databaseSchema, pool) : { extra: pool }) } as Partial<DataSourceOptions>;
  } else {
    // The socket server of PGlite takes no startup options (no search_path per connection): a schema of
    // its own needs a PostgreSQL server.
    if (config.databaseSchema) throw new Error(`Metering in its own schema ("${config.databaseSchema}") needs a PostgreSQL server: give it a databaseUrl`);
    embedded = await EmbeddedPostgres.start(config.dataDir);
    // PGlite is ONE session behind the socket, and the socket server interleaves the extended-protocol
    // messages of concurrent connections (their unnamed statements and portals clobber each other:
    // "portal does not exist"). One pooled connection serializes every query and transaction instead.
    connection = { ...embedded.connectionOptions, extra: { max: 1 } } as Partial<DataSourceOptions>;
  }
  const dataSource = new ManagedDataSource({ ...baseDataSourceOptions(), ...connection } as DataSourceOptions, embedded, { ...database, schema: config.databaseSchema });
  try {
    await dataSource.initialize();
    await dataSource.migrateAndSeed();
    return dataSource;
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}
