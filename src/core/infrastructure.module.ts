import { DynamicModule, Module } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { CommonModule } from '../common/common.module';
import type { AppConfig } from '../config/app-config';
import { ConfigRootModule } from '../config/config-root.module';
import { DatabaseModule } from '../database/database.module';
import { ConfigCacheModule } from '../modules/config-cache/config-cache.module';

export interface InfrastructureOptions {
  config: AppConfig;
  /** @nestjs/config's module that loaded `config` (loadConfigFromEnvironment); built from `config` when absent. */
  configModule?: DynamicModule;
  /** Tests pass a FakeClock; the service uses the system clock. */
  clock?: Clock;
}

/** What every part of metering stands on: config, clock and metrics, the database, the shared cache and bus. */
@Module({})
export class InfrastructureModule {
  static forRoot(options: InfrastructureOptions): DynamicModule {
    return {
      module: InfrastructureModule,
      imports: [ConfigRootModule.forRoot(options.config, options.configModule), CommonModule.forRoot(options.clock), DatabaseModule, ConfigCacheModule],
    };
  }
}
