import { Module } from '@nestjs/common';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { LedgerModule } from '../ledger/ledger.module';
import { OrganizationsCoreModule } from '../organizations/organizations-core.module';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import { WebhooksService } from './webhooks.service';

/** The webhook outbox and its delivery without the webhook routes (the delivery job runs embedded too). */
@Module({
  imports: [MeteringDataSourceModule, LedgerModule, OrganizationsCoreModule],
  providers: [WebhookDispatcher, WebhooksService],
  exports: [WebhookDispatcher, WebhooksService],
})
export class WebhooksCoreModule {}
