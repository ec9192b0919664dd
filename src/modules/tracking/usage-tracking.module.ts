import { DynamicModule, Module } from '@nestjs/common';
import { InfrastructureModule } from '../../core/infrastructure.module';
import type { InfrastructureOptions } from '../../core/infrastructure.module';
import { EventsModule } from '../events/events.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { UsageModule } from '../usage/usage.module';
import { AsyncUsageBuffer } from './async-usage-buffer.service';
import { TrackUsageInterceptor } from './track-usage.interceptor';

/**
 * The reusable piece: import it into any Nest application, then put `@TrackUsage('event_type')` on
 * controller methods. `forRoot` brings the database, registries and caches along (for an application that
 * is not this service); this service imports the module as it is, next to its own infrastructure.
 */
@Module({
  imports: [UsageModule, EventsModule, OrganizationsModule],
  providers: [TrackUsageInterceptor, AsyncUsageBuffer],
  exports: [UsageModule, TrackUsageInterceptor, AsyncUsageBuffer],
})
export class UsageTrackingModule {
  static forRoot(options: InfrastructureOptions): DynamicModule {
    return { module: UsageTrackingModule, imports: [InfrastructureModule.forRoot(options)] };
  }
}
