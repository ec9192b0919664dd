import { Module } from '@nestjs/common';
import { PlansModule } from '../plans/plans.module';
import { OrganizationsAdminController } from './organizations-admin.controller';
import { OrganizationsService } from './organizations.service';

@Module({
  imports: [PlansModule],
  controllers: [OrganizationsAdminController],
  providers: [OrganizationsService],
  exports: [OrganizationsService],
})
export class OrganizationsModule {}
