import { DynamicModule, Module, Provider } from '@nestjs/common';
import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';
import { TrackUsageInterceptor } from './track-usage.interceptor';
import { UsageClient } from './usage-client';
import { USAGE_CLIENT_OPTIONS } from './usage-client.options';
import type { UsageClientModuleOptions } from './usage-client.options';
import { UsageDeliveryService } from './usage-delivery.service';
import { UsageKeyCheck } from './usage-key-check.service';

export interface UsageClientModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: any[]) => UsageClientModuleOptions | Promise<UsageClientModuleOptions>; // eslint-disable-line @typescript-eslint/no-explicit-any
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
}

const providers: Provider[] = [
  { provide: UsageClient, useFactory: (options: UsageClientModuleOptions) => new UsageClient(options), inject: [USAGE_CLIENT_OPTIONS] },
  UsageDeliveryService,
  TrackUsageInterceptor,
  UsageKeyCheck,
];
const exported = [UsageClient, UsageDeliveryService, TrackUsageInterceptor, UsageKeyCheck, USAGE_CLIENT_OPTIONS];

/**
 * The metering service's client for a Nest application: `UsageClientModule.forRoot({ baseUrl, apiKey })`
 * once, in the root module. Global, so `@TrackUsage` works on the controllers of every module and
 * `UsageClient` can be injected anywhere.
 */
@Module({})
export class UsageClientModule {
  static forRoot(options: UsageClientModuleOptions): DynamicModule {
    return { module: UsageClientModule, global: true, providers: [{ provide: USAGE_CLIENT_OPTIONS, useValue: options }, ...providers], exports: exported };
  }

  /** With `ConfigService` or any other provider: `{ imports: [ConfigModule], inject: [ConfigService], useFactory }`. */
  static forRootAsync(options: UsageClientModuleAsyncOptions): DynamicModule {
    return {
      module: UsageClientModule,
      global: true,
      imports: options.imports ?? [],
      providers: [{ provide: USAGE_CLIENT_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }, ...providers],
      exports: exported,
    };
  }
}
