import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from './entities';

/** Options shared by the app and the TypeORM CLI: migrations only, never `synchronize`. */
export function baseDataSourceOptions(): Pick<DataSourceOptions, 'type' | 'entities' | 'migrations' | 'synchronize' | 'migrationsTableName'> & { type: 'postgres' } {
  return {
    type: 'postgres',
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
  };
}

/** How metering opens its database beyond the AppConfig (whose `databaseSchema` says where its objects live). */
export interface DatabaseOptions {
  /** Load the seed catalogue (15 event types, 4 plans) when it is missing. Default true (the service). */
  seed?: boolean;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A schema name safe to put in SQL and in a connection's search_path unquoted; else an Error. */
export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`Invalid metering schema "${schema}": lower-case letters, digits and _ only, at most 63`);
  return schema;
}

/**
 * Connection options that put every unqualified name in `schema`: TypeORM's own queries (entities, the
 * migrations table) through its `schema` option, and the raw SQL of the migrations, repositories and SQL
 * functions through the session's search_path, set at connection start-up (pg's `options`, so every pooled
 * connection has it, reconnections included, without a SET per checkout). The schema alone on the path:
 * no table of the host's `public` can be found by an unqualified name.
 */
export function schemaConnectionOptions(schema: string, extra: Record<string, unknown> = {}): Partial<DataSourceOptions> {
  assertSchemaName(schema);
  return { schema, extra: { ...extra, options: `-c search_path=${schema}` } } as Partial<DataSourceOptions>;
}
