import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';

export interface ClaimedDelivery {
  organization_id: string;
  id: string;
  event: string;
  payload: Record<string, unknown>;
  attempts: number;
  webhook_url: string | null;
  webhook_secret: string | null;
}

export interface DeliveryAttempt {
  organizationId: string;
  deliveryId: string;
  attempt: number;
  url: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  attemptedAt: Date;
  status: 'delivered' | 'failed' | 'pending';
  nextAttemptAt: Date;
}

/**
 * webhook_deliveries (the outbox) and webhook_attempts. Deliveries are created by the ledger's write of a
 * transaction's notifications (LedgerRepository.writeEntries, in the same statement, so a crash can neither
 * lose one nor send one for a rolled-back event); this repository claims and settles them.
 */
@Injectable()
export class WebhookOutboxRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Claims up to `limit` due deliveries with a lease until `leaseUntil`, in one short statement (SKIP
   * LOCKED, so several instances share the work); counts the attempt now, so a sender dying mid-flight
   * still uses one up.
   */
  async claimDue(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
    const [claimed] = (await this.tx.manager.query(
      `UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = $2
         FROM (SELECT organization_id, id FROM webhook_deliveries
                WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) due,
              organizations o
        WHERE d.organization_id = due.organization_id AND d.id = due.id AND o.id = d.organization_id
        RETURNING d.organization_id, d.id, d.event, d.payload, d.attempts, o.webhook_url, o.webhook_secret`,
      [now, leaseUntil, limit],
    )) as [ClaimedDelivery[], number];
    return claimed;
  }

  /** Records an attempt and the delivery's new state together (a rerun of the same attempt records it once). */
  async recordAttempt(a: DeliveryAttempt): Promise<void> {
    await this.tx.transaction(async () => {
      await this.tx.manager.query(
        `INSERT INTO webhook_attempts (organization_id, delivery_id, attempt, url, status_code, error, duration_ms, attempted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [a.organizationId, a.deliveryId, a.attempt, a.url, a.statusCode, a.error, a.durationMs, a.attemptedAt],
      );
      await this.tx.manager.query(`UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, last_error = $5, delivered_at = $6 WHERE organization_id = $1 AND id = $2`, [
        a.organizationId,
        a.deliveryId,
        a.status,
        a.nextAttemptAt,
        a.error,
        a.status === 'delivered' ? a.attemptedAt : null,
      ]);
    });
  }
}
