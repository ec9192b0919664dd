import Big from 'big.js';
import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsFromBig } from '../../../common/money/credits';

/**
 * "Credits remaining", the one definition every answer uses (usage summary, reservation replays, quotes):
 * the allowance left in the period (never below zero: overage does not eat into top-ups) plus the top-ups
 * still open (remaining > 0, not expired; summed in SQL by CreditGrantsRepository). consume_credits decides
 * debits by the same rule under the balance row lock, and reports its `remaining` on that basis. The ledger's
 * decimals (micro-credits) are combined exactly and the result rounded to hundredths once, as it is shown.
 */
export function creditsRemaining(allowance: string, allowanceUsed: string, openTopUps: string): CreditHundredths {
  const open = new Big(allowance).minus(allowanceUsed);
  return hundredthsFromBig((open.gt(0) ? open : new Big(0)).plus(openTopUps));
}

/**
 * What was left before a debit, from consume_credits' answer: it reports what is left after an accepted
 * debit (so add back what it took from the allowance and the top-ups; overage never counted), and before a
 * refused one (nothing taken).
 */
export function remainingBeforeDebit(r: { status: string; remaining: string; from_allowance: string; from_grants: string }): CreditHundredths {
  const after = new Big(r.remaining);
  return hundredthsFromBig(r.status === 'OK' ? after.plus(r.from_allowance).plus(r.from_grants) : after);
}
