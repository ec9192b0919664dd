import { DynamicModule, Module, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './common/auth/auth.guard';
import { Clock } from './common/clock/clock';
import { CommonModule } from './common/common.module';
import { APP_CONFIG } from './config/app-config';
import type { AppConfig } from './config/app-config';
import { DatabaseModule } from './database/database.module';
import { AdminConfigModule } from './modules/admin-config/admin-config.module';
import { AnalyticsModule } from './modules/analytics/analytics.module';
import { ApiKeysModule } from './modules/api-keys/api-keys.module';
import { ConfigCacheModule } from './modules/config-cache/config-cache.module';
import { EventsModule } from './modules/events/events.module';
import { HealthModule } from './modules/health/health.module';
import { JobsModule } from './modules/jobs/jobs.module';
import { OrganizationsModule } from './modules/organizations/organizations.module';
import { PlansModule } from './modules/plans/plans.module';
import { UsageModule } from './modules/usage/usage.module';

export interface AppModuleOptions {
  config: AppConfig;
  /** Tests pass a FakeClock; the service uses the system clock. */
  clock?: Clock;
}

@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    const providers: Provider[] = [{ provide: APP_GUARD, useClass: AuthGuard }];
    return {
      module: AppModule,
      imports: [
        ConfigRootModule.forRoot(options),
        CommonModule.forRoot(options.clock),
        DatabaseModule,
        ConfigCacheModule,
        HealthModule,
        EventsModule,
        PlansModule,
        AdminConfigModule,
        OrganizationsModule,
        UsageModule,
        AnalyticsModule,
        JobsModule,
        ApiKeysModule,
      ],
      providers,
    };
  }
}

/** Makes the config (and an overriding clock) global before any other module is built. */
@Module({})
class ConfigRootModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    const providers: Provider[] = [{ provide: APP_CONFIG, useValue: options.config }];
    return { module: ConfigRootModule, global: true, providers, exports: [APP_CONFIG] };
  }
}
