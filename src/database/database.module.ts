import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG } from '../config/app-config';
import type { AppConfig } from '../config/app-config';
import { baseDataSourceOptions } from './data-source-options';
import type { DatabaseOptions } from './data-source-options';
import { METERING_DATA_SOURCE, MeteringDataSourceModule } from './metering-data-source.module';
import { openDataSource } from './open-data-source';

/** Carries the config from the injected options factory to the static `dataSourceFactory` (spreads keep it). */
const CONFIG_KEY = Symbol('appConfig');

/**
 * Metering's TypeORM data source, registered under its own name (`metering`), standalone as embedded: a
 * host application's default data source is never taken, nor replaced. Metering's modules inject
 * `DataSource` through MeteringDataSourceModule's alias.
 */
@Module({})
export class DatabaseModule {
  static forRoot(database: DatabaseOptions = {}): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          name: METERING_DATA_SOURCE,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => ({
            ...baseDataSourceOptions(),
            // Fail fast: a locked data folder or a bad URL is not made better by retrying for 30 s.
            retryAttempts: 0,
            [CONFIG_KEY]: config,
          }),
          // The data source (and the embedded server, when there is one) is opened, migrated and seeded here,
          // before any module that needs it is created.
          dataSourceFactory: async (options) => {
            const config = (options as Record<symbol, AppConfig> | undefined)?.[CONFIG_KEY];
            if (!config) throw new Error('DatabaseModule: configuration missing');
            return openDataSource(config, database);
          },
        }),
        MeteringDataSourceModule,
      ],
      exports: [MeteringDataSourceModule],
    };
  }
}
