import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';

export interface AllowanceWarningRow {
  type: string;
  threshold: string;
  used: string;
  limit: string;
  plan: string | null;
  created_at: Date;
}

export interface NotificationRow {
  id: string;
  period_start: string;
  type: string;
  threshold: string;
  used: string;
  limit: string;
  payload: unknown;
  created_at: Date;
}

/** Reads of `notifications` (the ledger writes them with the debit that crossed a threshold). */
@Injectable()
export class NotificationsRepository {
  constructor(private readonly tx: TransactionHost) {}

  /** The period's allowance and limit warnings, by threshold; a budget's crossings are the budgets' own. */
  async allowanceWarnings(organizationId: string, periodStart: string): Promise<AllowanceWarningRow[]> {
    return (await this.tx.manager.query(
      `SELECT type, threshold, used, "limit", payload->>'plan' AS plan, created_at FROM notifications
        WHERE organization_id = $1 AND period_start = $2::date AND type <> 'budget_threshold' ORDER BY threshold, created_at`,
      [organizationId, periodStart],
    )) as AllowanceWarningRow[];
  }

  /** The newest 500 notifications of every kind. */
  async latest(organizationId: string): Promise<NotificationRow[]> {
    return (await this.tx.manager.query(
      `SELECT id, period_start, type, threshold, used, "limit", payload, created_at FROM notifications WHERE organization_id = $1 ORDER BY created_at DESC, id LIMIT 500`,
      [organizationId],
    )) as NotificationRow[];
  }
}
