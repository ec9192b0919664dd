import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { BudgetsAdminController } from './budgets-admin.controller';
import { BudgetsController } from './budgets.controller';
import { BudgetsUsageController } from './budgets-usage.controller';
import { BudgetsRepository } from './budgets.repository';
import { BudgetsService } from './budgets.service';

/** Budgets per API key and per member: their CRUD. Enforcement lives in the debit (usage module's SQL). */
@Module({
  imports: [MeteringDataSourceModule, OrganizationsModule],
  controllers: [BudgetsAdminController, BudgetsController, BudgetsUsageController],
  providers: [BudgetsRepository, BudgetsService],
  exports: [BudgetsService],
})
export class BudgetsModule {}
