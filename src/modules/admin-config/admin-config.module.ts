import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { PlansModule } from '../plans/plans.module';
import { AdminConfigController } from './admin-config.controller';
import { AdminConfigService } from './admin-config.service';

@Module({
  imports: [EventsModule, PlansModule],
  controllers: [AdminConfigController],
  providers: [AdminConfigService],
})
export class AdminConfigModule {}
