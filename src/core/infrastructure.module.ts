import { DynamicModule, Module } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { CommonModule } from '../common/common.module';
import type { AppConfig } from '../config/app-config';
import { ConfigRootModule } from '../config/config-root.module';
import type { DatabaseOptions } from '../database/data-source-options';
import { DatabaseModule } from '../database/database.module';
import { ConfigCacheModule } from '../modules/config-cache/config-cache.module';

export interface InfrastructureOptions {
  config: AppConfig;
  /** @nestjs/config's module that loaded `config` (loadConfigFromEnvironment); built from `config` when absent. */
  configModule?: DynamicModule;
  /** Tests pass a FakeClock; the service uses the system clock. */
  clock?: Clock;
  /** Whether to load the seed catalogue (the service: yes). The schema is `config.databaseSchema`. */
  database?: DatabaseOptions;
  /**
   * Inside another application (UsageTrackingModule.forRoot): no route (not even /metrics), and nothing of
   * @nestjs/config made global, where it would stand in for the host's own ConfigService.
   */
  embedded?: boolean;
}

/** What every part of metering stands on: config, clock and metrics, the database, the shared cache and bus. */
@Module({})
export class InfrastructureModule {
  static forRoot(options: InfrastructureOptions): DynamicModule {
    return {
      module: InfrastructureModule,
      imports: [
        options.embedded ? ConfigRootModule.embedded(options.config) : ConfigRootModule.forRoot(options.config, options.configModule),
        CommonModule.forRoot(options.clock, { metricsRoute: !options.embedded }),
        DatabaseModule.forRoot(options.database),
        ConfigCacheModule,
      ],
      exports: [DatabaseModule],
    };
  }
}
