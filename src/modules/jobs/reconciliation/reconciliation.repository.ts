import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { Period } from '../../../common/time/period';
import { isoDay, periodStartDay } from '../../analytics/utils/dates';

export type AlertKind =
  | 'balance_mismatch'
  | 'grant_mismatch'
  | 'allowance_exceeded'
  | 'overage_not_permitted'
  | 'spend_cap_exceeded'
  | 'rollup_mismatch'
  | 'async_events_refused'
  /** Raised by the period close, not the reconciliation: one organization's freeze failed (the others closed). */
  | 'period_close_failed'
  | 'ingest_lag';

export interface Discrepancy {
  organizationId: string;
  kind: AlertKind;
  /** YYYY-MM-DD, or null for what is not tied to a period (a top-up grant). */
  periodStart: string | null;
  /** What identifies "the same problem" across runs. */
  subject: string;
  details: Record<string, unknown>;
}

export interface AlertView {
  id: string;
  organizationId: string;
  kind: AlertKind;
  period: string | null;
  status: 'open' | 'resolved';
  resolution: string | null;
  details: Record<string, unknown>;
  firstSeenAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
  runId: string | null;
}

interface AlertRow {
  id: string;
  organization_id: string;
  kind: AlertKind;
  period_start: string | null;
  status: 'open' | 'resolved';
  resolution: string | null;
  details: Record<string, unknown>;
  first_seen_at: Date;
  last_seen_at: Date;
  resolved_at: Date | null;
  run_id: string | null;
}

const fingerprint = (d: Discrepancy) => `${d.kind}:${d.periodStart ?? '-'}:${d.subject}`;

/**
 * The queries of the ledger reconciliation. Each check is ONE statement, so it reads one snapshot: an event,
 * its balance update, its grant takes and its rollup increments commit together, so a transaction in flight
 * can never show up as a discrepancy.
 */
@Injectable()
export class ReconciliationRepository {
  constructor(private readonly dataSource: DataSource) {}

  private async hasReservations(): Promise<boolean> {
    const [{ present }] = (await this.dataSource.query(`SELECT to_regclass('reservations') IS NOT NULL AS present`)) as Array<{ present: boolean }>;
    return present;
  }

  /**
   * Every balance row of the period equals the sums of its ledger, plus what pending reservations hold
   * (they have moved credits already; see 1764300004000-CreateReservationsAndWebhooks).
   */
  async balanceMismatches(period: Period): Promise<Discrepancy[]> {
    const held = (await this.hasReservations())
      ? `SELECT organization_id, count(*) AS n, sum(credits) AS c, sum(from_allowance) AS a, sum(from_grants) AS g, sum(overage) AS o, sum(overage_cost) AS oc
           FROM reservations WHERE period_start = $1::date AND status = 'pending' GROUP BY organization_id`
      : `SELECT NULL::text AS organization_id, 0::bigint AS n, 0::numeric AS c, 0::numeric AS a, 0::numeric AS g, 0::numeric AS o, 0::numeric AS oc WHERE false`;
    const rows = (await this.dataSource.query(
      `WITH ev AS (
         SELECT organization_id, count(*) AS n, sum(credits) AS c, sum(from_allowance) AS a, sum(from_grants) AS g, sum(overage) AS o, sum(overage_cost) AS oc
           FROM usage_events WHERE occurred_at >= $2 AND occurred_at < $3 GROUP BY organization_id
       ), held AS (${held}),
       ledger AS (
         SELECT organization_id, sum(n) AS n, sum(c) AS c, sum(a) AS a, sum(g) AS g, sum(o) AS o, sum(oc) AS oc
           FROM (SELECT * FROM ev UNION ALL SELECT * FROM held) x GROUP BY organization_id
       ), b AS (SELECT * FROM period_balances WHERE period_start = $1::date)
       SELECT coalesce(b.organization_id, l.organization_id) AS organization_id, b.organization_id IS NULL AS missing,
              coalesce(b.consumed, 0)::text AS consumed, coalesce(l.c, 0)::text AS ledger_consumed,
              coalesce(b.allowance_used, 0)::text AS allowance_used, coalesce(l.a, 0)::text AS ledger_allowance,
              coalesce(b.grants_used, 0)::text AS grants_used, coalesce(l.g, 0)::text AS ledger_grants,
              coalesce(b.overage_used, 0)::text AS overage_used, coalesce(l.o, 0)::text AS ledger_overage,
              coalesce(b.overage_cost, 0)::text AS overage_cost, coalesce(l.oc, 0)::text AS ledger_overage_cost,
              coalesce(b.events, 0)::bigint AS events, coalesce(l.n, 0)::bigint AS ledger_events
         FROM b FULL JOIN ledger l ON l.organization_id = b.organization_id
        WHERE b.organization_id IS NULL
           OR b.consumed <> coalesce(l.c, 0) OR b.allowance_used <> coalesce(l.a, 0) OR b.grants_used <> coalesce(l.g, 0)
           OR b.overage_used <> coalesce(l.o, 0) OR b.overage_cost <> coalesce(l.oc, 0) OR b.events <> coalesce(l.n, 0)
        ORDER BY 1`,
      [periodStartDay(period), period.start, period.end],
    )) as Array<Record<string, string | boolean>>;
    return rows.map((r) => ({
      organizationId: String(r.organization_id),
      kind: 'balance_mismatch' as const,
      periodStart: periodStartDay(period),
      subject: 'balance',
      details: {
        balanceRowMissing: r.missing,
        balance: { consumed: r.consumed, allowanceUsed: r.allowance_used, topUpsUsed: r.grants_used, overage: r.overage_used, overageCost: r.overage_cost, events: Number(r.events) },
        ledger: { consumed: r.ledger_consumed, allowanceUsed: r.ledger_allowance, topUpsUsed: r.ledger_grants, overage: r.ledger_overage, overageCost: r.ledger_overage_cost, events: Number(r.ledger_events) },
      },
    }));
  }

  /** Every top-up grant: amount - remaining = its consumptions (plus what pending reservations took from it). */
  async grantMismatches(): Promise<Discrepancy[]> {
    const held = (await this.hasReservations())
      ? `SELECT r.organization_id, (t->>'grantId')::uuid AS grant_id, sum((t->>'credits')::numeric) AS credits
           FROM reservations r, jsonb_array_elements(r.grant_takes) t WHERE r.status = 'pending' GROUP BY 1, 2`
      : `SELECT NULL::text AS organization_id, NULL::uuid AS grant_id, 0::numeric AS credits WHERE false`;
    const rows = (await this.dataSource.query(
      `WITH used AS (
         SELECT organization_id, grant_id, sum(credits) AS credits FROM grant_consumptions GROUP BY 1, 2
         UNION ALL ${held}
       ), per_grant AS (SELECT organization_id, grant_id, sum(credits) AS credits FROM used GROUP BY 1, 2)
       SELECT g.organization_id, g.id, g.amount::text AS amount, g.remaining::text AS remaining, coalesce(u.credits, 0)::text AS consumed
         FROM credit_grants g LEFT JOIN per_grant u ON u.organization_id = g.organization_id AND u.grant_id = g.id
        WHERE g.amount - g.remaining <> coalesce(u.credits, 0)
        ORDER BY 1, 2`,
    )) as Array<{ organization_id: string; id: string; amount: string; remaining: string; consumed: string }>;
    return rows.map((r) => ({
      organizationId: r.organization_id,
      kind: 'grant_mismatch' as const,
      periodStart: null,
      subject: r.id,
      details: { grantId: r.id, amount: r.amount, remaining: r.remaining, consumedByEvents: r.consumed },
    }));
  }

  /**
   * No period past its allowance beyond the overage its plan and spend cap permit (docs/ledger.md). Overage
   * is judged by the money recorded with it (at the rate of its time): a later downgrade to a hard-capped
   * plan does not make overage consumed before it a violation.
   */
  async allowanceViolations(period: Period): Promise<Discrepancy[]> {
    const rows = (await this.dataSource.query(
      `SELECT b.organization_id, b.plan_name, b.allowance::text AS allowance, b.allowance_used::text AS allowance_used, b.overage_used::text AS overage_used,
              (p.config->>'overageRate') AS rate, o.spend_cap::text AS spend_cap,
              b.allowance_used > b.allowance AS over_allowance,
              b.overage_used > 0 AND b.overage_cost <= 0 AS overage_not_permitted,
              o.spend_cap IS NOT NULL AND b.overage_cost > o.spend_cap AS over_cap
         FROM period_balances b
         JOIN organizations o ON o.id = b.organization_id
         LEFT JOIN plan_definitions p ON p.name = b.plan_name
        WHERE b.period_start = $1::date
          AND (b.allowance_used > b.allowance
               OR (b.overage_used > 0 AND b.overage_cost <= 0)
               OR (o.spend_cap IS NOT NULL AND b.overage_cost > o.spend_cap))
        ORDER BY 1`,
      [periodStartDay(period)],
    )) as Array<{
      organization_id: string;
      plan_name: string;
      allowance: string;
      allowance_used: string;
      overage_used: string;
      rate: string | null;
      spend_cap: string | null;
      over_allowance: boolean;
      overage_not_permitted: boolean;
      over_cap: boolean;
    }>;
    const result: Discrepancy[] = [];
    for (const r of rows) {
      const details = { plan: r.plan_name, allowance: r.allowance, allowanceUsed: r.allowance_used, overage: r.overage_used, overageRate: r.rate, spendCap: r.spend_cap };
      const base = { organizationId: r.organization_id, periodStart: periodStartDay(period), subject: 'balance', details };
      if (r.over_allowance) result.push({ ...base, kind: 'allowance_exceeded' });
      if (r.overage_not_permitted) result.push({ ...base, kind: 'overage_not_permitted' });
      if (r.over_cap) result.push({ ...base, kind: 'spend_cap_exceeded' });
    }
    return result;
  }

  /**
   * Asynchronous events of the period that were refused when written (kept in refused_events, never
   * charged): not a ledger error, but work that ran unbilled, which the operator should see.
   */
  async refusedEvents(period: Period): Promise<Discrepancy[]> {
    const rows = (await this.dataSource.query(
      `SELECT organization_id, count(*)::int AS n, coalesce(sum(credits), 0)::text AS credits, array_agg(DISTINCT error ORDER BY error) AS errors
         FROM refused_events WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY 1 ORDER BY 1`,
      [period.start, period.end],
    )) as Array<{ organization_id: string; n: number; credits: string; errors: string[] }>;
    return rows.map((r) => ({
      organizationId: r.organization_id,
      kind: 'async_events_refused' as const,
      periodStart: periodStartDay(period),
      subject: 'refused_events',
      details: { refusedEvents: r.n, credits: r.credits, errors: r.errors },
    }));
  }

  /** Organizations whose daily rollups differ from their raw events in the period, or whose monthly ones differ from the daily. */
  async rollupMismatches(period: Period): Promise<Discrepancy[]> {
    const start = periodStartDay(period);
    const end = isoDay(period.end);
    const daily = (await this.dataSource.query(
      `WITH raw AS (
         SELECT organization_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, event_type, category, coalesce(user_id, '') AS user_id,
                count(*) AS events, sum(credits) AS credits, sum(overage) AS overage
           FROM usage_events WHERE occurred_at >= $3 AND occurred_at < $4 GROUP BY 1, 2, 3, 4, 5
       ), d AS (SELECT * FROM usage_rollups_daily WHERE day >= $1::date AND day < $2::date)
       SELECT coalesce(raw.organization_id, d.organization_id) AS organization_id, count(*)::int AS rows
         FROM raw FULL JOIN d ON d.organization_id = raw.organization_id AND d.day = raw.day AND d.event_type = raw.event_type
                             AND d.category = raw.category AND d.user_id = raw.user_id
        WHERE raw.events IS DISTINCT FROM d.events OR raw.credits IS DISTINCT FROM d.credits OR raw.overage IS DISTINCT FROM d.overage
        GROUP BY 1 ORDER BY 1`,
      [start, end, period.start, period.end],
    )) as Array<{ organization_id: string; rows: number }>;
    const monthly = (await this.dataSource.query(
      `WITH d AS (
         SELECT organization_id, event_type, category, user_id, sum(events) AS events, sum(credits) AS credits, sum(overage) AS overage
           FROM usage_rollups_daily WHERE day >= $1::date AND day < $2::date GROUP BY 1, 2, 3, 4
       ), mo AS (SELECT * FROM usage_rollups_monthly WHERE period_start = $1::date)
       SELECT coalesce(d.organization_id, mo.organization_id) AS organization_id, count(*)::int AS rows
         FROM d FULL JOIN mo ON mo.organization_id = d.organization_id AND mo.event_type = d.event_type AND mo.category = d.category AND mo.user_id = d.user_id
        WHERE d.events IS DISTINCT FROM mo.events OR d.credits IS DISTINCT FROM mo.credits OR d.overage IS DISTINCT FROM mo.overage
        GROUP BY 1 ORDER BY 1`,
      [start, end],
    )) as Array<{ organization_id: string; rows: number }>;
    const byOrg = new Map<string, { dailyRowsOff: number; monthlyRowsOff: number }>();
    for (const r of daily) byOrg.set(r.organization_id, { dailyRowsOff: r.rows, monthlyRowsOff: 0 });
    for (const r of monthly) byOrg.set(r.organization_id, { dailyRowsOff: byOrg.get(r.organization_id)?.dailyRowsOff ?? 0, monthlyRowsOff: r.rows });
    return [...byOrg].map(([organizationId, details]) => ({ organizationId, kind: 'rollup_mismatch' as const, periodStart: start, subject: 'rollups', details }));
  }

  /** Records a discrepancy as an open alert, or refreshes the open one (a rerun raises nothing new). True when new. */
  async raise(d: Discrepancy, runId: string, now: Date): Promise<boolean> {
    const [row] = (await this.dataSource.query(
      `INSERT INTO reconciliation_alerts (organization_id, id, fingerprint, kind, period_start, details, status, run_id, first_seen_at, last_seen_at)
       VALUES ($1, $2, $3, $4, $5::date, $6, 'open', $7, $8, $8)
       ON CONFLICT (organization_id, fingerprint) WHERE status = 'open'
       DO UPDATE SET details = EXCLUDED.details, last_seen_at = EXCLUDED.last_seen_at, run_id = EXCLUDED.run_id
       RETURNING (id = $2) AS inserted`,
      [d.organizationId, randomUUID(), fingerprint(d), d.kind, d.periodStart, JSON.stringify(d.details), runId, now],
    )) as Array<{ inserted: boolean }>;
    return row.inserted;
  }

  /** Records a discrepancy the run repaired itself, resolved at once (with any open alert for it). */
  async repaired(d: Discrepancy, runId: string, now: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE reconciliation_alerts SET status = 'resolved', resolution = 'repaired', resolved_at = $3, run_id = $4
        WHERE organization_id = $1 AND fingerprint = $2 AND status = 'open'`,
      [d.organizationId, fingerprint(d), now, runId],
    );
    await this.dataSource.query(
      `INSERT INTO reconciliation_alerts (organization_id, id, fingerprint, kind, period_start, details, status, resolution, run_id, first_seen_at, last_seen_at, resolved_at)
       VALUES ($1, $2, $3, $4, $5::date, $6, 'resolved', 'repaired', $7, $8, $8, $8)`,
      [d.organizationId, randomUUID(), fingerprint(d), d.kind, d.periodStart, JSON.stringify(d.details), runId, now],
    );
  }

  /** A period that closed after all: its open period_close_failed alerts are resolved. */
  async resolveCloseFailures(periodStart: string, runId: string, now: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE reconciliation_alerts SET status = 'resolved', resolution = 'period closed', resolved_at = $2, run_id = $3
        WHERE status = 'open' AND kind = 'period_close_failed' AND period_start = $1::date`,
      [periodStart, now, runId],
    );
  }

  /** Open alerts of the checked scope that this run no longer saw: resolved. */
  async resolveUnseen(periodStarts: string[], includeGrants: boolean, seen: Discrepancy[], runId: string, now: Date): Promise<number> {
    const [, resolved] = (await this.dataSource.query(
      `UPDATE reconciliation_alerts SET status = 'resolved', resolution = 'no longer observed', resolved_at = $4, run_id = $5
        WHERE status = 'open' AND kind <> 'period_close_failed'
          AND (period_start = ANY($1::date[]) OR ($2 AND kind = 'grant_mismatch'))
          AND NOT ((organization_id || '|' || fingerprint) = ANY($3::text[]))`,
      [periodStarts, includeGrants, seen.map((d) => `${d.organizationId}|${fingerprint(d)}`), now, runId],
    )) as [unknown, number];
    return resolved;
  }

  async list(status: 'open' | 'resolved' | 'all', limit: number): Promise<AlertView[]> {
    const rows = (await this.dataSource.query(
      `SELECT id, organization_id, kind, period_start::text AS period_start, status, resolution, details, first_seen_at, last_seen_at, resolved_at, run_id
         FROM reconciliation_alerts WHERE ($1 = 'all' OR status = $1) ORDER BY last_seen_at DESC, id LIMIT $2`,
      [status, limit],
    )) as AlertRow[];
    return rows.map((r) => ({
      id: r.id,
      organizationId: r.organization_id,
      kind: r.kind,
      period: r.period_start ? r.period_start.slice(0, 7) : null,
      status: r.status,
      resolution: r.resolution,
      details: r.details,
      firstSeenAt: new Date(r.first_seen_at).toISOString(),
      lastSeenAt: new Date(r.last_seen_at).toISOString(),
      resolvedAt: r.resolved_at ? new Date(r.resolved_at).toISOString() : null,
      runId: r.run_id,
    }));
  }

  async countOpen(): Promise<number> {
    const [{ n }] = (await this.dataSource.query(`SELECT count(*)::int AS n FROM reconciliation_alerts WHERE status = 'open'`)) as Array<{ n: number }>;
    return n;
  }
}
