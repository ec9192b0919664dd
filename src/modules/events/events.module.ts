import { Module } from '@nestjs/common';
import { EventRegistry } from './event-registry.service';
import { EventsAdminController } from './events-admin.controller';

@Module({
  controllers: [EventsAdminController],
  providers: [EventRegistry],
  exports: [EventRegistry],
})
export class EventsModule {}
