import { Module } from '@nestjs/common';
import { PlanRegistry } from './plan-registry.service';
import { PlansAdminController } from './plans-admin.controller';
import { PublicPlansController } from './public-plans.controller';

@Module({
  controllers: [PlansAdminController, PublicPlansController],
  providers: [PlanRegistry],
  exports: [PlanRegistry],
})
export class PlansModule {}
