import { Module } from '@nestjs/common';
import { EventsCoreModule } from './events-core.module';
import { EventsAdminController } from './events-admin.controller';

@Module({
  imports: [EventsCoreModule],
  controllers: [EventsAdminController],
  exports: [EventsCoreModule],
})
export class EventsModule {}
