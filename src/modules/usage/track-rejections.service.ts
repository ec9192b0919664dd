import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-error';
import { amountOutOfBounds } from '../../common/money/bounds';
import Big from 'big.js';
import { hundredthsFromDecimalString, hundredthsToNumber, microsToDecimalString } from '../../common/money/credits';
import { periodClosedError } from '../analytics/closed-periods.service';
import { PlanRegistry } from '../plans/plan-registry.service';
import type { PlanDefinitionRecord } from '../plans/plan-registry.service';
import { countsTowardOf } from '../events/entities/event-definition.entity';
import type { BudgetRefusal, ConsumeResult, LimitRefusal, RunRefusal, RunRefusalStatus } from '../ledger/ledger.types';
import { runNotFound } from './event-preparer.service';
import type { Prepared } from './usage.types';

/**
 * What a refused debit tells the caller: the stable error (402 CREDITS_EXHAUSTED, LIMIT_EXCEEDED,
 * BUDGET_EXCEEDED, 422 PERIOD_CLOSED) with the plan the period was decided under and one that would fit.
 */
@Injectable()
export class TrackRejections {
  constructor(private readonly plans: PlanRegistry) {}

  /** The plans the debits were decided under, by name (a period's plan comes from the ledger, not the caller). */
  async plansOf(results: Array<Pick<ConsumeResult, 'plan_name'>>): Promise<Map<string, PlanDefinitionRecord>> {
    const plans = new Map<string, PlanDefinitionRecord>();
    for (const name of new Set(results.map((r) => r.plan_name).filter((n): n is string => Boolean(n)))) plans.set(name, await this.plans.findOrThrow(name));
    return plans;
  }

  /** The DomainError for a consume_credits refusal, with the plan that would have fitted. */
  rejection(r: ConsumeResult, p: Prepared, plan: PlanDefinitionRecord | undefined): DomainError {
    if (r.status === 'BUDGET_EXCEEDED' && r.budget) return budgetExceeded(r.budget as BudgetRefusal, p.credits);
    if (r.status === 'RUN_NOT_FOUND' || r.status === 'RUN_CLOSED' || r.status === 'RUN_BUDGET_EXCEEDED') return runRefusal(r.status, (r.budget ?? {}) as RunRefusal, p);
    const bound = boundRefusal(r, p);
    if (bound) return bound;
    if (r.status === 'PERIOD_CLOSED' || !plan) return periodClosedError(p.period);
    const consumed = hundredthsFromDecimalString(r.consumed_before);
    if (r.status === 'LIMIT_EXCEEDED') {
      // The debit names the limit that refused (an event may count toward several) with its bound and count.
      const refusal = (r.budget ?? {}) as Partial<LimitRefusal>;
      const limitKey = refusal.limit ?? countsTowardOf(p.definition.config)[0];
      const limit = refusal.max ?? plan.config.limits[limitKey] ?? null;
      const used = refusal.used ?? r.limit_used;
      // A plan that has room for one more: it does not bound the limit, or bounds it above what is used.
      const suggested = this.plans
        .listPlans()
        .find((candidate) => candidate.key !== plan.key && ((candidate.config.limits[limitKey] ?? null) === null || candidate.config.limits[limitKey]! > used));
      return new DomainError('LIMIT_EXCEEDED', `Plan "${plan.key}" allows ${limit} ${limitKey} per month`, {
        limit: limitKey,
        max: limit,
        used,
        plan: plan.key,
        suggestedPlan: suggested ? planSummary(suggested) : null,
      });
    }
    // The cheapest active plan whose allowance covers what was used plus what this event needs.
    const needed = consumed + p.credits;
    const suggested = this.plans.listPlans().find((candidate) => candidate.key !== plan.key && candidate.config.monthlyCredits * 100 >= needed);
    return new DomainError('CREDITS_EXHAUSTED', `Not enough credits: ${hundredthsToNumber(p.credits)} required, ${hundredthsToNumber(hundredthsFromDecimalString(r.remaining))} remaining`, {
      required: hundredthsToNumber(p.credits),
      remaining: hundredthsToNumber(hundredthsFromDecimalString(r.remaining)),
      plan: plan.key,
      suggestedPlan: suggested ? planSummary(suggested) : null,
    });
  }}

/**
 * A refusal by the call's agent run: 404 RUN_NOT_FOUND, 409 RUN_CLOSED (the run or an ancestor), 402
 * RUN_BUDGET_EXCEEDED with the run's path (root first) and the run whose budget it would pass. Figures in
 * credits as the ledger counts them (micro-credits, decimal strings): a run's budget is exact to 10^-6.
 */
export function runRefusal(status: RunRefusalStatus, r: RunRefusal, p: Prepared): DomainError {
  const runId = r.runId ?? p.input.context?.runId ?? '';
  if (status === 'RUN_NOT_FOUND') return runNotFound(runId);
  const details = { runId, path: r.path ?? [runId], limitingRunId: r.limitingRunId ?? runId };
  if (status === 'RUN_CLOSED') {
    const which = details.limitingRunId === runId ? '' : ` (its ancestor ${details.limitingRunId} is)`;
    return new DomainError('RUN_CLOSED', `Run "${runId}" is closed${which}: it takes no more calls`, details);
  }
  const budget = decimalString(r.budget ?? '0');
  const used = decimalString(r.used ?? '0');
  const required = decimalString(microsToDecimalString(p.micros));
  const which = details.limitingRunId === runId ? 'its budget' : `the budget of its ancestor ${details.limitingRunId}`;
  return new DomainError('RUN_BUDGET_EXCEEDED', `Run "${runId}" cannot spend ${required} credits: ${which} is ${budget} credits, ${used} used or held`, {
    ...details,
    budgetCredits: budget,
    usedCredits: used,
    requiredCredits: required,
  });
}

/** A ledger figure (numeric, up to 10^16 with 6 decimals: past a safe integer of micro-credits) as a plain decimal string, exactly. */
export function decimalString(value: number | string): string {
  return new Big(String(value)).toFixed();
}

/** 402 BUDGET_EXCEEDED: the budget of the event's key or member that it would take past its limit. */
function budgetExceeded(b: BudgetRefusal, required: number): DomainError {
  const credits = hundredthsToNumber(hundredthsFromDecimalString(String(b.credits)));
  const used = hundredthsToNumber(hundredthsFromDecimalString(String(b.used)));
  const who = b.scope === 'apiKey' ? `API key ${b.subject}` : `member ${b.subject}`;
  return new DomainError('BUDGET_EXCEEDED', `The ${b.period === 'day' ? 'daily' : 'monthly'} budget of ${who} is ${credits} credits: ${used} used, ${hundredthsToNumber(required)} required`, {
    budgetId: b.budgetId,
    scope: b.scope,
    subject: b.subject,
    credits,
    used,
  });
}

/** 422 AMOUNT_OUT_OF_BOUNDS for a debit the ledger refused at a period bound (consume_credits_many). */
export function boundRefusal(r: Pick<ConsumeResult, 'status' | 'consumed_before'>, p: Pick<Prepared, 'credits' | 'periodStart'>): DomainError | undefined {
  if (r.status === 'PERIOD_CREDITS_BOUND') {
    return amountOutOfBounds('periodCredits', { period: p.periodStart, used: hundredthsToNumber(hundredthsFromDecimalString(r.consumed_before)), required: hundredthsToNumber(p.credits) });
  }
  if (r.status === 'PERIOD_COST_BOUND') return amountOutOfBounds('periodOverageCost', { period: p.periodStart, required: hundredthsToNumber(p.credits) });
  return undefined;
}

function planSummary(plan: PlanDefinitionRecord) {
  return { name: plan.key, displayName: plan.config.displayName, monthlyCredits: plan.config.monthlyCredits, monthlyPrice: plan.config.pricing.monthly };
}

export function idempotencyConflict(key: string): DomainError {
  return new DomainError('IDEMPOTENCY_CONFLICT', `Idempotency key "${key}" was already used with a different request`, { idempotencyKey: key });
}

