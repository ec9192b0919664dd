import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { LedgerModule } from '../ledger/ledger.module';
import { PlansCoreModule } from '../plans/plans-core.module';
import { OrganizationsRepository } from './organizations.repository';
import { OrganizationsService } from './organizations.service';

/** Organizations without their admin routes (what the tracker and an embedding application need). */
@Module({
  imports: [MeteringDataSourceModule, LedgerModule, PlansCoreModule],
  providers: [OrganizationsRepository, OrganizationsService],
  exports: [OrganizationsRepository, OrganizationsService],
})
export class OrganizationsCoreModule {}
