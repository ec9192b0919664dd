import { describe, expect, it } from '@jest/globals';
import { roundUsd } from '../../../common/money/credits';
import { periodPlanPrice } from './plan-price';

describe('periodPlanPrice', () => {
  it.each([
    [{ monthly: 19, annual: 190 }, 'monthly', 19],
    [{ monthly: 19, annual: 190 }, 'annual', 15.83],
    [{ monthly: 49, annual: 490 }, 'annual', 40.83],
    [{ monthly: 99, annual: 990 }, 'annual', 82.5],
    [{ monthly: 0, annual: 0 }, 'annual', 0],
  ] as const)('%p %s costs %p a period', (pricing, cycle, usd) => {
    expect(roundUsd(periodPlanPrice(pricing, cycle))).toBe(usd);
  });
});
