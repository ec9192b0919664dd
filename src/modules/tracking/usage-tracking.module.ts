import { randomBytes } from 'node:crypto';
import { DynamicModule, Module } from '@nestjs/common';
import type { Clock } from '../../common/clock/clock';
import { loadConfig } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { InfrastructureModule } from '../../core/infrastructure.module';
import { assertSchemaName } from '../../database/data-source-options';
import { EventsCoreModule } from '../events/events-core.module';
import { JobsCoreModule } from '../jobs/jobs-core.module';
import { OrganizationsCoreModule } from '../organizations/organizations-core.module';
import { IngestDrainModule } from '../ingest/ingest-drain.module';
import { UsageCoreModule } from '../usage/usage-core.module';
import { AsyncUsageBuffer } from './async-usage-buffer.service';
import type { MeteredRequest } from './track-usage.types';
import { TrackUsageInterceptor } from './track-usage.interceptor';
import { TrackingHttpService } from './tracking-http.service';
import { EMBEDDED_TRACKING } from './tracking-options';
import type { EmbeddedTracking } from './tracking-options';

/** PostgreSQL connection settings for metering's own data source, when the host has no URL for it. */
export interface MeteringConnectionOptions {
  host: string;
  port?: number;
  username?: string;
  password?: string;
  database?: string;
  /** TLS to the server (`sslmode=require`). */
  ssl?: boolean;
}

export interface UsageTrackingModuleOptions {
  /** The PostgreSQL server metering uses (may be the host's own database: metering keeps to its schema). */
  databaseUrl?: string;
  /** Or its connection settings. */
  dataSource?: MeteringConnectionOptions;
  /** The PostgreSQL schema of metering's tables, functions and migrations table. Default `metering`. */
  schema?: string;
  /** Load the seed catalogue (15 event types, 4 plans) when missing. Default false: the host brings its own. */
  seed?: boolean;
  /** Run the scheduled jobs (reservation expiry, period close, rollups, partitions, webhooks). Default true. */
  jobs?: boolean;
  /** Shared cache and change bus across the host's instances (else PostgreSQL LISTEN/NOTIFY). */
  redisUrl?: string;
  /** The organization to charge, for routes whose `@TrackUsage` does not name it. */
  organizationId?: (request: MeteredRequest) => string | undefined;
  /** The clock (tests). */
  clock?: Clock;
  /** Any other setting of the service (pool size, batch sizes, job schedules…), over its defaults. */
  config?: Partial<AppConfig>;
}

/** The connection string for connection settings (one form for TypeORM, the LISTEN client and the job locks). */
export function connectionUrl(options: MeteringConnectionOptions): string {
  const user = options.username ? `${encodeURIComponent(options.username)}${options.password ? `:${encodeURIComponent(options.password)}` : ''}@` : '';
  const url = `postgres://${user}${options.host}${options.port ? `:${options.port}` : ''}/${encodeURIComponent(options.database ?? 'postgres')}`;
  return options.ssl ? `${url}?sslmode=require` : url;
}

/**
 * The configuration of metering inside another application: the service's defaults, never read from the
 * host's environment (its NODE_ENV, DATABASE_URL or ADMIN_API_KEY are the host's). There is no admin key:
 * no admin route is mounted, and UsageTrackingAdminModule takes its own. A random one stands in for it so
 * that the development key can never authenticate anything.
 */
export function embeddedConfig(options: UsageTrackingModuleOptions): AppConfig {
  const databaseUrl = options.databaseUrl ?? (options.dataSource ? connectionUrl(options.dataSource) : undefined);
  if (!databaseUrl) throw new Error('UsageTrackingModule.forRoot needs a PostgreSQL server: databaseUrl or dataSource');
  const base = loadConfig({ NODE_ENV: 'production', ADMIN_API_KEY: randomBytes(24).toString('hex'), LOG_LEVEL: 'warn' });
  return {
    ...base,
    jobsEnabled: options.jobs ?? true,
    ...options.config,
    databaseUrl,
    redisUrl: options.redisUrl ?? options.config?.redisUrl,
    databaseSchema: assertSchemaName(options.schema ?? 'metering'),
  };
}

/**
 * Tracking from a route: `@TrackUsage('event_type')` on controller methods (the interceptor and the async
 * buffer), and TrackingHttpService, which turns the body and headers of the usage API's own routes into
 * tracker calls. This service imports the module as it is, next to its own infrastructure. Another application imports `UsageTrackingModule.forRoot({ databaseUrl })`: metering
 * then brings its own named data source (the host's default one is never used), keeps its tables in its
 * own schema, runs its jobs, and mounts no route (UsageTrackingAdminModule is the opt-in admin API).
 */
@Module({
  imports: [UsageCoreModule, EventsCoreModule, OrganizationsCoreModule, IngestDrainModule],
  providers: [TrackUsageInterceptor, AsyncUsageBuffer, TrackingHttpService],
  exports: [UsageCoreModule, TrackUsageInterceptor, AsyncUsageBuffer, TrackingHttpService],
})
export class UsageTrackingModule {
  static forRoot(options: UsageTrackingModuleOptions): DynamicModule {
    const embedded: EmbeddedTracking = { organizationId: options.organizationId };
    return {
      module: UsageTrackingModule,
      // Global: @UseInterceptors(TrackUsageInterceptor) builds the interceptor in the module of each
      // decorated controller, anywhere in the host, and its dependencies must be found from there.
      global: true,
      imports: [InfrastructureModule.forRoot({ config: embeddedConfig(options), clock: options.clock, database: { seed: options.seed ?? false }, embedded: true }), JobsCoreModule],
      providers: [{ provide: EMBEDDED_TRACKING, useValue: embedded }],
      exports: [EMBEDDED_TRACKING, JobsCoreModule, OrganizationsCoreModule, EventsCoreModule],
    };
  }
}
