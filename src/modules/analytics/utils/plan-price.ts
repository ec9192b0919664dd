import Big from 'big.js';

export type BillingCycle = 'monthly' | 'annual';

/**
 * What one period of a plan costs the organization in USD, exact (rounded only on the invoice):
 * the monthly price, or for an annual subscription its price spread evenly over 12 periods
 * (starter 190/12 = 15.8333…, invoiced 15.83). A choice: we bill annual plans monthly at 1/12 rather than
 * up front, so invoices, forecasts and recommendations compare like with like.
 */
export function periodPlanPrice(pricing: { monthly: number; annual: number }, cycle: BillingCycle): Big {
  return cycle === 'annual' ? new Big(pricing.annual).div(12) : new Big(pricing.monthly);
}
