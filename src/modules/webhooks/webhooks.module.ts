import { Module } from '@nestjs/common';
import { OrganizationsModule } from '../organizations/organizations.module';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import { WebhooksController } from './webhooks.controller';
import { WebhooksService } from './webhooks.service';

/** Delivers the outbox that tracking fills (one delivery per threshold notification of an org with a URL). */
@Module({
  imports: [OrganizationsModule],
  controllers: [WebhooksController],
  providers: [WebhookDispatcher, WebhooksService],
  exports: [WebhookDispatcher],
})
export class WebhooksModule {}
