import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { UsageCoreModule } from '../usage/usage-core.module';
import { RunsController } from './runs.controller';
import { RunsRepository } from './runs.repository';
import { RunsService } from './runs.service';

/** Agent runs with nested budgets: the runs table and its routes. Enforcement lives in the debit (the ledger's SQL). */
@Module({
  imports: [MeteringDataSourceModule, OrganizationsModule, UsageCoreModule],
  controllers: [RunsController],
  providers: [RunsRepository, RunsService],
  exports: [RunsService],
})
export class RunsModule {}
