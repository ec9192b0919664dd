import { Module } from '@nestjs/common';
import { OrganizationsModule } from '../organizations/organizations.module';
import { WebhooksController } from './webhooks.controller';
import { WebhooksCoreModule } from './webhooks-core.module';

/** Delivers the outbox that tracking fills (one delivery per threshold notification of an org with a URL). */
@Module({
  imports: [WebhooksCoreModule, OrganizationsModule],
  controllers: [WebhooksController],
  exports: [WebhooksCoreModule],
})
export class WebhooksModule {}
