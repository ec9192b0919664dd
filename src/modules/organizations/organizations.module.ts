import { Module } from '@nestjs/common';
import { PlansModule } from '../plans/plans.module';
import { OrganizationCreditsController } from './organization-credits.controller';
import { OrganizationsAdminController } from './organizations-admin.controller';
import { OrganizationsService } from './organizations.service';

@Module({
  imports: [PlansModule],
  controllers: [OrganizationsAdminController, OrganizationCreditsController],
  providers: [OrganizationsService],
  exports: [OrganizationsService],
})
export class OrganizationsModule {}
