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
