import { Module } from '@nestjs/common';
import { PlansModule } from '../plans/plans.module';
import { OrganizationsAdminController } from './organizations-admin.controller';
import { OrganizationsCoreModule } from './organizations-core.module';

@Module({
  imports: [OrganizationsCoreModule, PlansModule],
  controllers: [OrganizationsAdminController],
  exports: [OrganizationsCoreModule],
})
export class OrganizationsModule {}
