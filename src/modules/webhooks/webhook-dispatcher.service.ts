import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { WebhookOutboxRepository } from '../ledger/webhook-outbox.repository';
import type { ClaimedDelivery } from '../ledger/webhook-outbox.repository';
import { signWebhookBody, webhookBackoffSeconds } from './utils/webhook-signature';

export const WEBHOOK_MAX_ATTEMPTS = 10;
/** A claimed delivery is retried by anyone after this lease, should its sender die mid-flight (at-least-once). */
const LEASE_SECONDS = 60;
const TIMEOUT_MS = 5000;

/**
 * Delivers the webhook outbox: signed POSTs, retried with exponential backoff, every attempt recorded.
 * Deliveries are claimed with a lease in one short statement (SKIP LOCKED), then sent outside any transaction,
 * so several instances share the work and a slow receiver never holds a database connection. The
 * webhook-delivery job runs it every few seconds (JOB_WEBHOOK_DELIVERY_SECONDS).
 */
@Injectable()
export class WebhookDispatcher {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private running?: Promise<number>;

  constructor(
    private readonly outbox: WebhookOutboxRepository,
    private readonly clock: Clock,
  ) {}

  /** Sends every due delivery once; returns how many were attempted. Concurrent calls share one run. */
  runOnce(): Promise<number> {
    this.running ??= this.dispatchDue().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async dispatchDue(limit = 50): Promise<number> {
    const now = this.clock.now();
    const leaseUntil = new Date(now.getTime() + LEASE_SECONDS * 1000);
    const claimed = await this.outbox.claimDue(now, leaseUntil, limit);
    await Promise.all(claimed.map((delivery) => this.deliver(delivery)));
    return claimed.length;
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const started = Date.now();
    const attemptedAt = this.clock.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    if (!delivery.webhook_url || !delivery.webhook_secret) {
      error = 'the organization has no webhook URL any more';
    } else {
      const body = JSON.stringify({ id: delivery.id, event: delivery.event, createdAt: attemptedAt.toISOString(), data: delivery.payload });
      try {
        const response = await fetch(delivery.webhook_url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'credit-metering-webhooks/1',
            'x-webhook-id': delivery.id,
            'x-webhook-event': delivery.event,
            'x-signature': signWebhookBody(delivery.webhook_secret, body),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        statusCode = response.status;
        await response.arrayBuffer().catch(() => undefined);
        if (response.status < 200 || response.status >= 300) error = `HTTP ${response.status}`;
      } catch (e) {
        error = (e as Error).name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS} ms` : `${(e as Error).message}`.slice(0, 300);
      }
    }
    const delivered = error === null;
    const giveUp = !delivered && (delivery.attempts >= WEBHOOK_MAX_ATTEMPTS || !delivery.webhook_url);
    const next = new Date(attemptedAt.getTime() + webhookBackoffSeconds(delivery.attempts) * 1000);
    await this.outbox.recordAttempt({
      organizationId: delivery.organization_id,
      deliveryId: delivery.id,
      attempt: delivery.attempts,
      url: delivery.webhook_url ?? '',
      statusCode,
      error,
      durationMs: Date.now() - started,
      attemptedAt,
      status: delivered ? 'delivered' : giveUp ? 'failed' : 'pending',
      nextAttemptAt: next,
    });
    if (!delivered) this.logger.warn(`Webhook ${delivery.id} attempt ${delivery.attempts} failed: ${error}`);
  }
}
