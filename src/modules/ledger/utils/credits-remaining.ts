import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsFromDecimalString } from '../../../common/money/credits';

/**
 * "Credits remaining", the one definition every answer uses (usage summary, reservation replays, quotes):
 * the allowance left in the period (never below zero: overage does not eat into top-ups) plus the top-ups
 * still open (remaining > 0, not expired; summed in SQL by CreditGrantsRepository). consume_credits decides
 * debits by the same rule under the balance row lock, and reports its `remaining` on that basis.
 */
export function creditsRemaining(allowance: CreditHundredths, allowanceUsed: CreditHundredths, openTopUps: CreditHundredths): CreditHundredths {
  return Math.max(allowance - allowanceUsed, 0) + openTopUps;
}

/**
 * What was left before a debit, from consume_credits' answer: it reports what is left after an accepted
 * debit (so add back what it took from the allowance and the top-ups; overage never counted), and before a
 * refused one (nothing taken).
 */
export function remainingBeforeDebit(r: { status: string; remaining: string; from_allowance: string; from_grants: string }): CreditHundredths {
  const after = hundredthsFromDecimalString(r.remaining);
  return r.status === 'OK' ? after + hundredthsFromDecimalString(r.from_allowance) + hundredthsFromDecimalString(r.from_grants) : after;
}
