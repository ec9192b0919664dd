import { limitKeyOf } from '../events/entities/event-definition.entity';
import { randomUUID } from 'node:crypto';
import { isPositive, marksCrossed, warningFigure } from './utils/threshold-mark';
import { hundredthsFromDecimalString, hundredthsToNumber, microsToDecimalString } from '../../common/money/credits';
import type { PlanDefinitionRecord } from '../plans/plan-registry.service';
import type { ConsumeResult, DebitItem, LedgerEventRow, NotificationRow, RefusedEventRow } from './ledger.types';
import type { TrackResult, UsageWarning } from '../../../libs/contracts/src/tracking.types';

/** Thresholds (fractions of the allowance) that this event's consumption crossed. */
export function crossedThresholds(plan: PlanDefinitionRecord, r: Pick<ConsumeResult, 'allowance' | 'consumed_before' | 'consumed_after'>): UsageWarning[] {
  if (!isPositive(r.allowance)) return [];
  return marksCrossed(r.allowance, plan.config.warningThresholds, r.consumed_before, r.consumed_after).map((threshold) => ({ type: 'usage_threshold' as const, threshold, used: warningFigure(r.consumed_after), limit: warningFigure(r.allowance) }));
}

/**
 * Thresholds a debit took one of its budgets across: the plan's warning thresholds as
 * fractions of the budget's limit, like the organization's allowance. A budget of 0 credits has none.
 */
export function crossedBudgetThresholds(plan: PlanDefinitionRecord, r: Pick<ConsumeResult, 'budget_takes'>): UsageWarning[] {
  const warnings: UsageWarning[] = [];
  for (const take of r.budget_takes ?? []) {
    if (!isPositive(take.limit)) continue;
    for (const threshold of marksCrossed(take.limit, plan.config.warningThresholds, take.before, take.after)) {
      warnings.push({
        type: 'budget_threshold',
        threshold,
        used: warningFigure(take.after),
        limit: warningFigure(take.limit),
        budgetId: take.budgetId,
        scope: take.scope,
        subject: take.subject,
        period: take.period,
        window: String(take.window).slice(0, 10),
      });
    }
  }
  return warnings;
}

/**
 * The rows one transaction writes for the events it accepted: ledger rows, grant consumptions and threshold
 * notifications, built from consume_credits' answer. Written together by UsageTracker.writeEntries.
 */
export class LedgerEntries {
  readonly events: LedgerEventRow[] = [];
  readonly takes: Array<{ organization_id: string; grant_id: string; event_id: string; period_start: string; credits: string }> = [];
  readonly notifications: NotificationRow[] = [];

  add(organizationId: string, plan: PlanDefinitionRecord, p: DebitItem, r: ConsumeResult, eventId: string, now: Date): TrackResult {
    const limitKey = limitKeyOf(p.definition.config);
    const warnings = [...crossedThresholds(plan, r), ...crossedBudgetThresholds(plan, r)];
    const result: TrackResult = {
      success: true,
      eventId,
      eventType: p.definition.key,
      creditsConsumed: hundredthsToNumber(p.credits),
      remainingCredits: hundredthsToNumber(hundredthsFromDecimalString(r.remaining)),
      overageCredits: hundredthsToNumber(hundredthsFromDecimalString(r.overage)),
      breakdown: p.breakdown,
      warnings,
      period: { start: p.period.start.toISOString(), end: p.period.end.toISOString() },
      duplicate: false,
    };
    this.events.push({
      organization_id: organizationId,
      occurred_at: p.occurredAt.toISOString(),
      id: eventId,
      period_start: p.periodStart,
      recorded_at: now.toISOString(),
      event_type: p.definition.key,
      category: p.definition.config.category,
      definition_version: p.definition.version,
      user_id: p.input.userId ?? null,
      credits: microsToDecimalString(p.micros),
      from_allowance: r.from_allowance,
      from_grants: r.from_grants,
      overage: r.overage,
      overage_cost: r.overage_cost,
      limit_key: limitKey,
      breakdown: p.breakdown,
      idempotency_key: p.key ?? null,
      endpoint: p.input.context?.endpoint ?? null,
      ip: p.input.context?.ip ?? null,
      user_agent: p.input.context?.userAgent?.slice(0, 500) ?? null,
      api_key_id: p.input.context?.apiKeyId ?? null,
      run_id: p.input.context?.runId ?? null,
    });
    for (const take of r.grant_takes) {
      this.takes.push({ organization_id: organizationId, grant_id: take.grantId, event_id: eventId, period_start: p.periodStart, credits: String(take.credits) });
    }
    for (const w of warnings) {
      // A budget's crossing is once per budget, window and threshold (the window joins the once-only key);
      // the allowance's once per period and threshold.
      const budget = w.type === 'budget_threshold';
      this.notifications.push({
        organization_id: organizationId,
        id: randomUUID(),
        period_start: p.periodStart,
        type: w.type,
        threshold: w.threshold,
        used: String(w.used),
        limit: String(w.limit),
        ...(budget ? { dedupe_key: `${w.budgetId}:${w.window}` } : {}),
        payload: budget
          ? { event: 'budget.threshold_crossed', ...w, organizationId, period: result.period, eventId }
          : { event: 'usage.threshold_crossed', ...w, organizationId, period: result.period, eventId, plan: plan.key },
      });
    }
    return result;
  }

  /**
   * One notice per organization and period that had asynchronous events refused (the notifications' unique
   * key keeps it once a period, so a flood of refusals is one webhook, not thousands); the events themselves
   * are each in refused_events.
   */
  static refusalNotices(rows: RefusedEventRow[]): NotificationRow[] {
    const byPeriod = new Map<string, RefusedEventRow[]>();
    for (const r of rows) byPeriod.set(`${r.organization_id}|${r.period_start}`, [...(byPeriod.get(`${r.organization_id}|${r.period_start}`) ?? []), r]);
    return [...byPeriod.values()].map((group) => {
      const first = group[0];
      return {
        organization_id: first.organization_id,
        id: randomUUID(),
        period_start: first.period_start,
        type: 'async_event_refused',
        threshold: 0,
        used: '0',
        limit: '0',
        payload: {
          event: 'usage.async_event_refused',
          organizationId: first.organization_id,
          periodStart: first.period_start,
          refused: group.length,
          firstError: first.error,
          message: `Asynchronous events were refused when written (first: ${first.error}); they are listed in the event log and were not charged`,
        },
      };
    });
  }
}
