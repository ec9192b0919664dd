import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';
import type { CreditHundredths } from '../../common/money/credits';
import { hundredthsOrZero } from '../../common/money/credits';

export interface GrantRow {
  id: string;
  amount: string;
  remaining: string;
  expires_at: Date | null;
  reason: string | null;
  created_by: string;
  created_at: Date;
}

const GRANT_COLUMNS = 'id, amount, remaining, expires_at, reason, created_by, created_at';

/**
 * The top-ups still usable at $2 of organization $1, as one SQL expression: the one definition of an open
 * grant (consume_credits takes from the same set, oldest expiry first).
 */
export const OPEN_TOP_UPS_SQL = `(SELECT coalesce(sum(remaining), 0) FROM credit_grants WHERE organization_id = $1 AND remaining > 0 AND (expires_at IS NULL OR expires_at > $2))`;

/**
 * credit_grants: top-ups. Created here; debited only by consume_credits / refund_credits (through the
 * ledger repositories), which keep `remaining` equal to amount minus the grant's consumptions.
 */
@Injectable()
export class CreditGrantsRepository {
  constructor(private readonly tx: TransactionHost) {}

  async insert(g: { organizationId: string; id: string; amount: string; expiresAt: string | null; reason: string | null; createdBy: string; now: Date }): Promise<GrantRow> {
    const rows = (await this.tx.manager.query(
      `INSERT INTO credit_grants (organization_id, id, amount, remaining, expires_at, reason, created_by, created_at)
       VALUES ($1, $2, $3, $3, $4, $5, $6, $7) RETURNING ${GRANT_COLUMNS}`,
      [g.organizationId, g.id, g.amount, g.expiresAt, g.reason, g.createdBy, g.now],
    )) as GrantRow[];
    return rows[0];
  }

  /** Every grant of the organization, oldest first (`asc`) or newest first (`desc`). */
  async list(organizationId: string, order: 'asc' | 'desc'): Promise<GrantRow[]> {
    const direction = order === 'asc' ? 'created_at, id' : 'created_at DESC, id';
    return (await this.tx.manager.query(`SELECT ${GRANT_COLUMNS} FROM credit_grants WHERE organization_id = $1 ORDER BY ${direction}`, [organizationId])) as GrantRow[];
  }

  /** The open top-ups' total at `now` (see OPEN_TOP_UPS_SQL). */
  async openTotal(organizationId: string, now: Date): Promise<CreditHundredths> {
    return hundredthsOrZero(await this.openTotalExact(organizationId, now));
  }

  /** The same, as the ledger's exact decimal (for a figure that combines it with others before rounding). */
  async openTotalExact(organizationId: string, now: Date): Promise<string> {
    const [row] = (await this.tx.manager.query(`SELECT ${OPEN_TOP_UPS_SQL} AS remaining`, [organizationId, now])) as Array<{ remaining: string | null }>;
    return row.remaining ?? '0';
  }
}
