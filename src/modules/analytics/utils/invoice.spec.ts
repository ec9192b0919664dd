import { describe, expect, it } from '@jest/globals';
import type { InvoiceInput, InvoiceLines } from './invoice';
import { buildInvoice } from './invoice';

const h = (credits: number) => Math.round(credits * 100);

describe('buildInvoice', () => {
  // name, plan, price, included, used, overage credits, rate, top-ups -> overageCost, total
  it.each<[string, string, number, number, number, number, number | null, number, number, number]>([
    ['starter with 2000.5 overage credits', 'starter', 19, 1000, 3000.5, 2000.5, 0.02, 0, 40.01, 59.01],
    ['enterprise, 9.87648 rounds up to 9.88', 'enterprise', 99, 15000, 16234.56, 1234.56, 0.008, 0, 9.88, 108.88],
    ['no overage', 'professional', 49, 5000, 3000, 0, 0.01, 0, 0, 49],
    ['hard-capped free plan', 'free', 0, 100, 100, 0, null, 0, 0, 0],
    ['exact half cent rounds up (0.25 * 0.02 = 0.005)', 'starter', 19, 1000, 1000.25, 0.25, 0.02, 0, 0.01, 19.01],
    ['just under half a cent rounds down (0.24 * 0.02 = 0.0048)', 'starter', 19, 1000, 1000.24, 0.24, 0.02, 0, 0, 19],
    ['0.01 * 0.008 = 0.00008 rounds to nothing', 'enterprise', 99, 15000, 15000.01, 0.01, 0.008, 0, 0, 99],
    ['1.01 * 0.005 = 0.00505 rounds up', 'custom', 10, 100, 101.01, 1.01, 0.005, 0, 0.01, 10.01],
    // In binary floats 19.99 + 0.3 is 20.289999999999996.
    ['no float drift in the total', 'custom', 19.99, 100, 130, 30, 0.01, 0, 0.3, 20.29],
    ['annual share as the period price', 'starter', 15.83, 1000, 1500, 500, 0.02, 0, 10, 25.83],
    ['large overage', 'starter', 19, 1000, 1001000, 1000000, 0.02, 0, 20000, 20019],
    ['top-ups are listed, not charged without a cost', 'starter', 19, 1000, 1400, 0, 0.02, 500, 0, 19],
  ])('%s', (_name, plan, planPrice, included, used, overage, rate, topUps, overageCost, total) => {
    const input: InvoiceInput = {
      planName: plan,
      planPrice,
      includedCredits: h(included),
      usedCredits: h(used),
      overageCredits: h(overage),
      overageRate: rate,
      topUpCredits: h(topUps),
    };
    const expected: InvoiceLines = {
      plan,
      planPrice,
      includedCredits: included,
      usedCredits: used,
      overageCredits: overage,
      overageRate: rate ?? 0,
      overageCost,
      topUpCredits: topUps,
      total,
    };
    expect(buildInvoice(input)).toEqual(expected);
  });

  // 0.25 overage credits at 0.02 = 0.005 -> 0.01; total = 19 + 0.01 + top-up line.
  it.each([
    [10, 10, 29.01],
    [4.995, 5, 24.01], // the line is rounded half-up before it is summed
  ])('bills top-ups costing %p as a line of %p, total %p', (topUpCost, line, total) => {
    const invoice = buildInvoice({
      planName: 'starter',
      planPrice: 19,
      includedCredits: h(1000),
      usedCredits: h(1500.25),
      overageCredits: h(0.25),
      overageRate: 0.02,
      topUpCredits: h(500),
      topUpCost,
    });
    expect(invoice).toMatchObject({ topUpCredits: 500, topUpCost: line, overageCost: 0.01, total });
  });

  it('has no top-up cost line when none is given', () => {
    const invoice = buildInvoice({ planName: 'starter', planPrice: 19, includedCredits: h(1000), usedCredits: h(1400), overageCredits: 0, overageRate: 0.02, topUpCredits: h(500) });
    expect('topUpCost' in invoice).toBe(false);
  });

  it('rounds a sub-cent plan price half-up', () => {
    expect(buildInvoice({ planName: 'x', planPrice: 8.325, includedCredits: 0, usedCredits: 0, overageCredits: 0, overageRate: null, topUpCredits: 0 })).toMatchObject({
      planPrice: 8.33,
      total: 8.33,
    });
  });
});

describe('buildInvoice with recorded overage cost (SPEC 4: consumed money keeps its price)', () => {
  // name, overage credits, today's rate, recorded USD -> overage line, total (plan price 0)
  it.each<[string, number, number | null, string, number, number]>([
    ['a downgrade to a hard-capped plan keeps the overage consumed before it', 50, null, '1.00', 1, 1],
    ['a rate change mid-period: half at 0.02, half at 0.01', 200, 0.01, '3.00', 3, 3],
    ['unrounded sum of per-event costs rounds once, half up', 1, 0.02, '0.0050', 0.01, 0.01],
    ['no overage recorded', 0, 0.02, '0', 0, 0],
  ])('%s', (_name, overage, rate, recorded, overageCost, total) => {
    const lines = buildInvoice({ planName: 'free', planPrice: 0, includedCredits: 10000, usedCredits: 10000 + h(overage), overageCredits: h(overage), overageRate: rate, topUpCredits: 0, recordedOverageCost: recorded });
    expect(lines.overageCost).toBe(overageCost);
    expect(lines.total).toBe(total);
  });

  it('lists the plans the period ran on when given', () => {
    const plans = [
      { plan: 'starter', from: '2026-11-01T00:00:00.000Z' },
      { plan: 'free', from: '2026-11-15T10:00:00.000Z' },
    ];
    expect(buildInvoice({ planName: 'free', planPrice: 0, includedCredits: 0, usedCredits: 0, overageCredits: 0, overageRate: null, topUpCredits: 0, plans }).plans).toEqual(plans);
    expect(buildInvoice({ planName: 'free', planPrice: 0, includedCredits: 0, usedCredits: 0, overageCredits: 0, overageRate: null, topUpCredits: 0 })).not.toHaveProperty('plans');
  });
});
