import { Injectable } from '@nestjs/common';
import { ReservationsService } from '../../usage/reservations.service';
import { WebhookDispatcher } from '../../webhooks/webhook-dispatcher.service';
import type { JobDefinition, JobResult } from '../job.types';

/**
 * The reservation sweep and the webhook outbox as jobs, so operators see their runs and can run them now.
 * Both also tick on their own short timers (15 s and 2 s: expiry and delivery latency matter more than a
 * cron minute); each is safe to run anywhere at any time (SKIP LOCKED claims), so the two paths never clash.
 */
@Injectable()
export class ReservationExpiryJob implements JobDefinition {
  readonly name = 'reservation-expiry';
  readonly description = 'Gives back the credits of reservations left pending past their TTL';

  constructor(private readonly reservations: ReservationsService) {}

  /** Its own timer starts with the service: nothing to catch up on. */
  shouldCatchUp(): boolean {
    return false;
  }

  async run(): Promise<JobResult> {
    let rows = 0;
    for (let n = await this.reservations.expireDue(); n > 0; n = await this.reservations.expireDue()) rows += n;
    return { rows };
  }
}

@Injectable()
export class WebhookDeliveryJob implements JobDefinition {
  readonly name = 'webhook-delivery';
  readonly description = 'Sends due webhook deliveries from the outbox (signed, retried with backoff)';

  constructor(private readonly dispatcher: WebhookDispatcher) {}

  shouldCatchUp(): boolean {
    return false;
  }

  async run(): Promise<JobResult> {
    return { rows: await this.dispatcher.runOnce() };
  }
}
