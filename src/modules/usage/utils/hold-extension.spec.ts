import { describe, expect, it } from '@jest/globals';
import { addDecimal, mergeExtension } from './hold-extension';
import type { ConsumeResult } from '../../ledger/ledger.types';

describe('mergeExtension: a hold plus its extension reads as one debit', () => {
  const hold = {
    credits: '2.554000',
    from_allowance: '2.000000',
    from_grants: '0.554000',
    overage: '0.000000',
    overage_cost: '0',
    grant_takes: [{ grantId: 'g1', credits: '0.554000' }],
    budget_takes: [{ budgetId: 'b1', window: '2026-11-01', scope: 'apiKey' as const, subject: 'k', period: 'month' as const, limit: 10, before: 1, after: 3.554, credits: '2.554000' }],
  };
  const debit = {
    status: 'OK',
    from_allowance: '0',
    from_grants: '1.000000',
    overage: '1.048000',
    overage_cost: '0.02096000000000000000',
    grant_takes: [{ grantId: 'g1', credits: '0.446000' }, { grantId: 'g2', credits: '0.554000' }],
    budget_takes: [{ budgetId: 'b1', window: '2026-11-01', scope: 'apiKey', subject: 'k', period: 'month', limit: 10, before: 3.554, after: 5.602, credits: '2.048000' }],
    remaining: '0',
    consumed_after: '5.602000',
  } as unknown as ConsumeResult;

  it('sums amounts exactly, one take per grant and per budget window', () => {
    const m = mergeExtension(hold, debit, 2_048_000, { units: { outputTokens: 512 } }, new Date('2026-11-15T12:10:00Z'));
    expect(m).toMatchObject({ credits: '4.602000', from_allowance: '2.000000', from_grants: '1.554000', overage: '1.048000', overage_cost: '0.02096000000000000000', consumed_after: '5.602000', remaining_after: '0' });
    expect(m.grant_takes).toEqual([{ grantId: 'g1', credits: '1.000000' }, { grantId: 'g2', credits: '0.554000' }]);
    expect(m.budget_takes).toEqual([expect.objectContaining({ budgetId: 'b1', before: 1, after: 5.602, credits: '4.602000' })]);
  });

  it.each([
    ['0', '0', '0'],
    ['0.1', '0.2', '0.3'],
    ['1.005', '2', '3.005'],
    ['0.00000000000000000001', '0.1', '0.10000000000000000001'],
    ['999999999999.999999', '0.000001', '1000000000000.000000'],
  ])('addDecimal(%s, %s) = %s', (a, b, sum) => expect(addDecimal(a, b)).toBe(sum));
});
