import { hasAtMostTwoDecimals, hundredthsFromNumber, hundredthsToNumber } from '../../../common/money/credits';
import { isPlainObject } from '../../../common/validation/json-validators';

/**
 * What a definition created through the seed-compatible `POST /api/admin/config` (`create`, or `update` of a
 * key that does not exist yet: an upsert, docs/api.md) gets for the fields it leaves out. The seed's own
 * example creates `test_event` with only baseCredits, description and category. What sets the price or the
 * allowance is never guessed: an event needs `baseCredits`, a plan `monthlyCredits` and `pricing.monthly`.
 * The REST resources (`/api/admin/events`, `/api/admin/plans`) take whole definitions and fill nothing in.
 */

/** `test_event` -> "Test Event". */
export function displayNameFromKey(key: string): string {
  return key
    .split('_')
    .filter((word) => word.length > 0)
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join(' ');
}

/** A new event type: named after its type, category `general`, no multipliers (the validator's defaults), active. */
export function newEventDefinitionDefaults(eventType: string): Record<string, unknown> {
  return { displayName: displayNameFromKey(eventType), category: 'general' };
}

/**
 * A new plan: named after its name, the annual price twelve monthly ones (no discount), and otherwise the
 * validator's defaults: no limits (unlimited), no features, no overage (hard cap), warnings at 80/90/100 %,
 * sort order 0, active.
 */
export function newPlanDefinitionDefaults(name: string, input: Record<string, unknown>): Record<string, unknown> {
  const defaults: Record<string, unknown> = { displayName: displayNameFromKey(name) };
  const pricing = input.pricing;
  // Only for a price the validator will accept (an amount, at most 2 decimals); anything else is left to it to refuse.
  if (isPlainObject(pricing) && typeof pricing.monthly === 'number' && pricing.annual === undefined && pricing.monthly >= 0 && hasAtMostTwoDecimals(pricing.monthly)) {
    defaults.pricing = { annual: hundredthsToNumber(hundredthsFromNumber(pricing.monthly) * 12) };
  }
  return defaults;
}
