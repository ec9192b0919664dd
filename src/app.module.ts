import { DynamicModule, Module, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './common/auth/auth.guard';
import { InfrastructureModule } from './core/infrastructure.module';
import type { InfrastructureOptions } from './core/infrastructure.module';
import { AdminConfigModule } from './modules/admin-config/admin-config.module';
import { AiToolsModule } from './modules/ai-tools/ai-tools.module';
import { AnalyticsModule } from './modules/analytics/analytics.module';
import { ApiKeysModule } from './modules/api-keys/api-keys.module';
import { BudgetsModule } from './modules/budgets/budgets.module';
import { PortalModule } from './modules/portal/portal.module';
import { RunsModule } from './modules/runs/runs.module';
import { DashboardModule } from './modules/dashboard/dashboard.module';
import { EventsModule } from './modules/events/events.module';
import { HealthModule } from './modules/health/health.module';
import { JobsModule } from './modules/jobs/jobs.module';
import { OrganizationsModule } from './modules/organizations/organizations.module';
import { PlansModule } from './modules/plans/plans.module';
import { UsageModule } from './modules/usage/usage.module';
import { WebhooksModule } from './modules/webhooks/webhooks.module';

export type AppModuleOptions = InfrastructureOptions;

@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    // The guard is also a provider of its own: direct routes (common/http/direct-routes.ts) call the same instance.
    const providers: Provider[] = [AuthGuard, { provide: APP_GUARD, useExisting: AuthGuard }];
    return {
      module: AppModule,
      imports: [
        InfrastructureModule.forRoot(options),
        HealthModule,
        EventsModule,
        PlansModule,
        AdminConfigModule,
        OrganizationsModule,
        UsageModule,
        AnalyticsModule,
        JobsModule,
        AiToolsModule,
        WebhooksModule,
        ApiKeysModule,
        BudgetsModule,
        RunsModule,
        PortalModule,
        DashboardModule,
      ],
      providers,
    };
  }
}
