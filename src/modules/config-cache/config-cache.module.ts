import KeyvRedis from '@keyv/redis';
import { CacheModule, CacheOptions } from '@nestjs/cache-manager';
import { Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { KeyvCacheableMemory } from '@cacheable/memory';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from '../../config/app-config';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import type { AppConfig } from '../../config/app-config';
import { ConfigChangeBus, LocalConfigChangeBus, PostgresConfigChangeBus, RedisConfigChangeBus } from './config-change-bus';

/**
 * The shared cache store (cache-manager: in-process LRU by default, Redis when REDIS_URL is set) and the
 * change bus that carries invalidations across instances (Redis pub/sub, else PostgreSQL LISTEN/NOTIFY;
 * nothing to carry on the embedded database, which is one process).
 *
 * Not global: the modules that use it import it. Embedded in another application, a global CACHE_MANAGER
 * of ours would answer the host's own lookups of that token (and the host's would answer ours).
 */
@Module({
  imports: [
    MeteringDataSourceModule,
    CacheModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): CacheOptions => ({
        // An unreachable Redis must fail fast instead of hanging cached reads and shutdown. Metering in a
        // schema of its own has its own key namespace: two catalogues must not share cached definitions.
        stores: config.redisUrl
          ? new KeyvRedis(config.redisUrl, { connectionTimeout: 2000, throwOnConnectError: true, namespace: config.databaseSchema ? `metering:${config.databaseSchema}` : 'metering' })
          : new KeyvCacheableMemory({ lruSize: 10_000 }),
        ttl: config.configCacheTtlSeconds * 1000,
      }),
    }),
  ],
  providers: [
    {
      provide: ConfigChangeBus,
      inject: [APP_CONFIG, DataSource],
      useFactory: (config: AppConfig, dataSource: DataSource): ConfigChangeBus => {
        if (config.redisUrl) return new RedisConfigChangeBus(config.redisUrl);
        if (config.databaseUrl) {
          return new PostgresConfigChangeBus(config.databaseUrl, async (channel, payload) => {
            await dataSource.query('SELECT pg_notify($1, $2)', [channel, payload]);
          });
        }
        return new LocalConfigChangeBus();
      },
    },
  ],
  exports: [CacheModule, ConfigChangeBus],
})
export class ConfigCacheModule implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(ConfigChangeBus) private readonly bus: ConfigChangeBus) {}

  async onModuleInit(): Promise<void> {
    await this.bus.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.stop();
  }
}
