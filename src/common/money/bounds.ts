import { DomainError } from '../errors/domain-error';

/**
 * Every bound on an amount, in one place (docs/amounts-and-bounds.md says the same in words). Each is checked
 * where the amount enters, with a 4xx AMOUNT_OUT_OF_BOUNDS that names the bound, and nothing is written for
 * what would pass it; every column and TypeScript type holds every value they allow, with room:
 *
 *  - one event's price <= MAX_EVENT_CREDITS (10^9 credits): checked when the event is priced. In TypeScript an
 *    event's price is held exactly as a safe integer even at 10^-6 credits (10^15 < 2^53, about 9.007 x 10^15);
 *  - an organization's period total (period_balances.consumed, and with it every part of it, every rollup
 *    row and every budget window of the period) <= MAX_PERIOD_CREDITS (10^10 credits): checked inside the
 *    debit (consume_credits_many), under the balance row lock, so concurrent batches cannot pass it together.
 *    numeric(22,6) / numeric(18,2) hold below 10^16; as hundredths in TypeScript 10^12, and a year of
 *    periods 1.2 x 10^13, far below 2^53;
 *  - an organization's overage money per period (period_balances.overage_cost, the invoice's overage line)
 *    <= MAX_PERIOD_OVERAGE_COST_USD (10^12 USD): checked inside the same debit. The invoice total is that
 *    plus the plan price (a plan validator keeps it <= 10^8 USD a year), so <= MAX_INVOICE_TOTAL_USD;
 *    invoices hold money as numeric(16,2) (below 10^14), TypeScript as a number of dollars with two
 *    decimals, exact below 2^53 hundredths (about 9 x 10^13 USD).
 *
 * The SQL side repeats MAX_PERIOD_CREDITS and MAX_PERIOD_OVERAGE_COST_USD as literals in consume_credits_many
 * (migration 1764300030000-AmountBounds); test/amount-bounds.e2e-spec.ts charges up to each exactly and one
 * hundredth past it, so the two cannot drift apart unnoticed.
 */
export const MAX_EVENT_CREDITS = 1_000_000_000;
export const MAX_PERIOD_CREDITS = 10_000_000_000;
export const MAX_PERIOD_OVERAGE_COST_USD = 1_000_000_000_000;
/** The largest plan price of a period (an annual price, see the plan validator). */
export const MAX_PLAN_PRICE_USD = 100_000_000;
export const MAX_INVOICE_TOTAL_USD = MAX_PERIOD_OVERAGE_COST_USD + MAX_PLAN_PRICE_USD;

/**
 * The largest budget of an agent run: what an organization may consume in one period. Runs count in
 * numeric(22,6) like the ledger (below 10^16 credits), and their figures travel as decimal strings, never as
 * a number of micro-credits (10^10 credits is 10^16 micro-credits, past 2^53).
 */
export const MAX_RUN_BUDGET_CREDITS = MAX_PERIOD_CREDITS;

export type AmountBound = 'eventCredits' | 'periodCredits' | 'periodOverageCost' | 'runBudgetCredits';

export const BOUNDS: Record<AmountBound, { max: number; unit: 'credits' | 'USD'; what: string }> = {
  eventCredits: { max: MAX_EVENT_CREDITS, unit: 'credits', what: 'the price of one event' },
  periodCredits: { max: MAX_PERIOD_CREDITS, unit: 'credits', what: "an organization's credits consumed in one period" },
  periodOverageCost: { max: MAX_PERIOD_OVERAGE_COST_USD, unit: 'USD', what: "an organization's overage cost in one period" },
  runBudgetCredits: { max: MAX_RUN_BUDGET_CREDITS, unit: 'credits', what: "an agent run's budget" },
};

/**
 * 422 AMOUNT_OUT_OF_BOUNDS: the request is well formed, but the amount it would record passes a documented
 * bound. `details` names the bound and its maximum, so a caller can tell it from any other refusal.
 */
export function amountOutOfBounds(bound: AmountBound, extra: Record<string, unknown> = {}): DomainError {
  const b = BOUNDS[bound];
  return new DomainError('AMOUNT_OUT_OF_BOUNDS', `The amount passes a bound: ${b.what} is at most ${b.max} ${b.unit}`, { bound, max: b.max, unit: b.unit, ...extra });
}
