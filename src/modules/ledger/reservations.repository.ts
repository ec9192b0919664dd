import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../common/database/transaction-host';
import type { HoldExtension, ReservationRow } from './ledger.types';


/**
 * reservations: holds. Created by reserve_credits_many (LedgerRepository.reserveMany, key claim and debit in the
 * same statement) and settled in one statement by LedgerRepository.settleHolds; this repository holds the checked
 * paths' reads, row locks and state changes, and the refund of a hold. Every method runs in the ambient
 * transaction (TransactionHost): a state change is only right under the row lock taken by `lock` or `lockDue`.
 */
@Injectable()
export class ReservationsRepository {
  constructor(private readonly tx: TransactionHost) {}

  async find(organizationId: string, id: string): Promise<ReservationRow | undefined> {
    const rows = (await this.tx.manager.query(`SELECT * FROM reservations WHERE organization_id = $1 AND id = $2`, [organizationId, id])) as ReservationRow[];
    return rows[0];
  }

  /** The live (pending or committed) reservation that holds an idempotency key: what a replay answers with. */
  async findLiveByKey(organizationId: string, key: string): Promise<ReservationRow | undefined> {
    const rows = (await this.tx.manager.query(`SELECT * FROM reservations WHERE organization_id = $1 AND idempotency_key = $2 AND status IN ('pending', 'committed')`, [organizationId, key])) as ReservationRow[];
    return rows[0];
  }

  /** What a committed reservation's event was charged: a second commit reports it (the first answer may have been lost). */
  async committedCharge(organizationId: string, id: string): Promise<{ event_id: string; event_type: string; credits: string; overage: string } | undefined> {
    const rows = (await this.tx.manager.query(
      `SELECT e.id AS event_id, e.event_type, e.credits::text AS credits, e.overage::text AS overage
         FROM reservations r JOIN usage_events e ON e.organization_id = r.organization_id AND e.id = r.event_id
        WHERE r.organization_id = $1 AND r.id = $2 AND r.status = 'committed'`,
      [organizationId, id],
    )) as Array<{ event_id: string; event_type: string; credits: string; overage: string }>;
    return rows[0];
  }

  /** The reservation under its row lock (a second commit, a release or the sweep then wait for this transaction). */
  async lock(organizationId: string, id: string): Promise<ReservationRow | undefined> {
    const rows = (await this.tx.manager.query(`SELECT * FROM reservations WHERE organization_id = $1 AND id = $2 FOR UPDATE`, [organizationId, id])) as ReservationRow[];
    return rows[0];
  }

  /** Up to `limit` pending reservations past their TTL, locked; the ones another sweeper holds are skipped. */
  async lockDue(now: Date, limit: number): Promise<ReservationRow[]> {
    return (await this.tx.manager.query(`SELECT * FROM reservations WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`, [now, limit])) as ReservationRow[];
  }

  /** Settles a locked reservation: committed to `eventId`, or released / expired (its credits given back by `refund`). */
  async markSettled(organizationId: string, id: string, settlement: { status: 'committed'; eventId: string } | { status: 'released' | 'expired' }, now: Date): Promise<void> {
    if (settlement.status === 'committed') {
      await this.tx.manager.query(`UPDATE reservations SET status = 'committed', event_id = $3, settled_at = $4 WHERE organization_id = $1 AND id = $2`, [organizationId, id, settlement.eventId, now]);
    } else {
      await this.tx.manager.query(`UPDATE reservations SET status = $3, settled_at = $4 WHERE organization_id = $1 AND id = $2`, [organizationId, id, settlement.status, now]);
    }
  }

  /**
   * How many holds of the period are still pending: their credits are held, not final, so the period close
   * freezes the organization on a later run, once they are committed, released or expired.
   */
  async countPending(organizationId: string, periodStart: string): Promise<number> {
    const [{ n }] = (await this.tx.manager.query(`SELECT count(*)::int AS n FROM reservations WHERE organization_id = $1 AND period_start = $2::date AND status = 'pending'`, [
      organizationId,
      periodStart,
    ])) as Array<{ n: number }>;
    return n;
  }

  /** Pushes a locked pending hold's expiry out (an extension that needed no more credits). */
  async pushExpiry(organizationId: string, id: string, expiresAt: Date, delivered: Record<string, unknown> | null): Promise<void> {
    await this.tx.manager.query(`UPDATE reservations SET expires_at = greatest(expires_at, $3), delivered_data = coalesce($4::jsonb, delivered_data) WHERE organization_id = $1 AND id = $2`, [
      organizationId,
      id,
      expiresAt,
      delivered ? JSON.stringify(delivered) : null,
    ]);
  }

  /**
   * Writes an extension into its locked hold: the amounts it now holds, what it took from where (a refund or
   * the commit reverses the whole of it), its quantities and expiry. The extension's debit counted one more
   * event in the balance; the hold stays one event, so the count goes back here, under the balance row lock
   * the debit took in this same transaction.
   */
  async extend(res: ReservationRow, merged: HoldExtension, delivered: Record<string, unknown> | null): Promise<void> {
    await this.tx.manager.query(
      `UPDATE reservations SET credits = $3::numeric, from_allowance = $4::numeric, from_grants = $5::numeric, overage = $6::numeric,
              overage_cost = $7::numeric, grant_takes = $8::jsonb, budget_takes = $9::jsonb, consumed_after = $10::numeric,
              remaining_after = $11::numeric, event_data = $12::jsonb, expires_at = greatest(expires_at, $13),
              delivered_data = coalesce($14::jsonb, delivered_data)
        WHERE organization_id = $1 AND id = $2 AND status = 'pending'`,
      [
        res.organization_id,
        res.id,
        merged.credits,
        merged.from_allowance,
        merged.from_grants,
        merged.overage,
        merged.overage_cost,
        JSON.stringify(merged.grant_takes),
        JSON.stringify(merged.budget_takes),
        merged.consumed_after,
        merged.remaining_after,
        JSON.stringify(merged.event_data),
        merged.expires_at,
        delivered ? JSON.stringify(delivered) : null,
      ],
    );
    await this.tx.manager.query(`UPDATE period_balances SET events = events - 1 WHERE organization_id = $1 AND period_start = $2::date`, [res.organization_id, res.period_start]);
  }

  /** Gives a hold's credits back (refund_credits: allowance, top-ups, overage, count limit and budgets, under the balance row lock). */
  async refund(res: ReservationRow, now: Date): Promise<void> {
    await this.tx.manager.query(`SELECT refund_credits($1, $2::date, $3::numeric, $4::numeric, $5::numeric, $6::numeric, $7::jsonb, $8, $9, $10::jsonb, $11::uuid)`, [
      res.organization_id,
      res.period_start,
      res.from_allowance,
      res.from_grants,
      res.overage,
      res.overage_cost ?? '0',
      JSON.stringify(res.grant_takes),
      res.limit_key,
      now,
      JSON.stringify(res.budget_takes ?? []),
      res.run_id ?? null,
    ]);
  }
}
