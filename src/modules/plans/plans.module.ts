import { Module } from '@nestjs/common';
import { PlansCoreModule } from './plans-core.module';
import { PlansAdminController } from './plans-admin.controller';
import { PublicPlansController } from './public-plans.controller';

@Module({
  imports: [PlansCoreModule],
  controllers: [PlansAdminController, PublicPlansController],
  exports: [PlansCoreModule],
})
export class PlansModule {}
