import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { ConfigCacheModule } from '../config-cache/config-cache.module';
import { PlanRegistry } from './plan-registry.service';

/** The plan catalogue without routes; the data source and cache imported (see EventsCoreModule). */
@Module({
  imports: [MeteringDataSourceModule, ConfigCacheModule],
  providers: [PlanRegistry],
  exports: [PlanRegistry],
})
export class PlansCoreModule {}
