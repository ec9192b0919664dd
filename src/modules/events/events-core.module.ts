import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { ConfigCacheModule } from '../config-cache/config-cache.module';
import { EventRegistry } from './event-registry.service';

/**
 * The event catalogue without its admin routes (what the tracker and an embedding application need). The
 * data source and the cache are imported, not taken from the global scope: in a host application those
 * would be the host's.
 */
@Module({
  imports: [MeteringDataSourceModule, ConfigCacheModule],
  providers: [EventRegistry],
  exports: [EventRegistry],
})
export class EventsCoreModule {}
