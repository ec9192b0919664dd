import { describe, expect, it } from '@jest/globals';
import { crossedBudgetThresholds } from './ledger-entries';
import type { PlanDefinitionRecord } from '../plans/plan-registry.service';
import type { BudgetTake } from './ledger.types';

const plan = { key: 'starter', config: { warningThresholds: [0.8, 0.9, 1] } } as unknown as PlanDefinitionRecord;
const take = (limit: number | string, before: number | string, after: number | string): BudgetTake => ({
  budgetId: 'b-1',
  window: '2026-11-15',
  scope: 'apiKey',
  subject: 'k-1',
  period: 'day',
  limit,
  before,
  after,
  credits: Number(after) - Number(before),
});

describe('crossedBudgetThresholds', () => {
  it.each<[string, BudgetTake[], number[]]>([
    ['nothing crossed below 80 %', [take(10, 0, 7.99)], []],
    ['exactly 80 % crosses it', [take(10, 0, 8)], [0.8]],
    ['one event across all three', [take(10, 0, 10)], [0.8, 0.9, 1]],
    ['already past 80 % before: only 90 %', [take(10, 8, 9.5)], [0.9]],
    ['starting exactly at a mark does not cross it again', [take(10, 9, 9.5)], []],
    ['exact decimals: 0.1 + 0.2 of 0.375 is 80 %', [take('0.375', '0.1', '0.30')], [0.8]],
    ['a zero budget has no thresholds', [take(0, 0, 0)], []],
    ['no takes', [], []],
  ])('%s', (_name, takes, thresholds) => {
    expect(crossedBudgetThresholds(plan, { budget_takes: takes }).map((w) => w.threshold)).toEqual(thresholds);
  });

  it('names the budget, its window and the figures', () => {
    expect(crossedBudgetThresholds(plan, { budget_takes: [take('10.00', '7.50', '8.40')] })).toEqual([
      { type: 'budget_threshold', threshold: 0.8, used: 8.4, limit: 10, budgetId: 'b-1', scope: 'apiKey', subject: 'k-1', period: 'day', window: '2026-11-15' },
    ]);
  });
});
