import { Injectable } from '@nestjs/common';
import { ReservationsService } from '../../usage/reservations.service';
import { WebhookDispatcher } from '../../webhooks/webhook-dispatcher.service';
import type { JobDefinition, JobResult } from '../job.types';

/**
 * The reservation sweep and the webhook outbox as jobs: scheduled every few seconds by JobsScheduler
 * (JOB_RESERVATION_EXPIRY_SECONDS, 15; JOB_WEBHOOK_DELIVERY_SECONDS, 2: expiry and delivery latency matter
 * more than a cron minute), locked and recorded by the runner like every job, and run now by operators.
 * Idle runs replace one another (pruneIdleRuns), so a 2-second cadence does not fill job_runs.
 */
@Injectable()
export class ReservationExpiryJob implements JobDefinition {
  readonly name = 'reservation-expiry';
  readonly description = 'Gives back the credits of reservations left pending past their TTL';

  constructor(private readonly reservations: ReservationsService) {}

  readonly pruneIdleRuns = true;

  /** Its first tick comes within seconds of the start: nothing to catch up on. */
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

  readonly pruneIdleRuns = true;

  constructor(private readonly dispatcher: WebhookDispatcher) {}

  shouldCatchUp(): boolean {
    return false;
  }

  async run(): Promise<JobResult> {
    return { rows: await this.dispatcher.runOnce() };
  }
}
