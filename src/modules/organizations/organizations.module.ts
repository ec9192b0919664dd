import { Module } from '@nestjs/common';
import { PlansModule } from '../plans/plans.module';
import { OrganizationCreditsController } from './organization-credits.controller';
import { OrganizationsAdminController } from './organizations-admin.controller';
import { OrganizationsCoreModule } from './organizations-core.module';

@Module({
  imports: [OrganizationsCoreModule, PlansModule],
  controllers: [OrganizationsAdminController, OrganizationCreditsController],
  exports: [OrganizationsCoreModule],
})
export class OrganizationsModule {}
