import { describe, expect, it } from '@jest/globals';
import { parsePeriodKey } from '../../../common/time/period';
import { buildInvoice } from './invoice';
import { buildMonthlyReport, monthlyReportCsv } from './monthly-report';

describe('monthly report', () => {
  const invoice = buildInvoice({ planName: 'starter', planPrice: 19, includedCredits: 100_000, usedCredits: 120_050, overageCredits: 20_050, overageRate: 0.02, topUpCredits: 0 });
  const report = buildMonthlyReport({
    organization: { id: 'acme', name: 'Acme, Inc.', billingCycle: 'monthly' },
    plan: { name: 'starter', displayName: 'Starter Plan', monthlyCredits: 1000, overageRate: 0.02 },
    period: parsePeriodKey('2028-02'),
    generatedAt: new Date('2028-03-01T01:00:00.000Z'),
    balance: { allowance: 100_000, consumed: 120_050, allowanceUsed: 100_000, grantsUsed: 0, overage: 20_050, events: 4 },
    invoice,
    rows: [
      { eventType: 'visuals_sketch', category: 'ai_visual', userId: 'u1', events: 1, credits: 1200, overage: 0 },
      { eventType: 'solutioning_hyper_canvas', category: 'ai_solutioning', userId: null, events: 2, credits: 118_000, overage: 20_000 },
      { eventType: 'visuals_sketch', category: 'ai_visual', userId: '=u2', events: 1, credits: 850, overage: 50 },
    ],
    days: [
      { day: '2028-02-01', events: 1, credits: 1200, overage: 0 },
      { day: '2028-02-29', events: 3, credits: 118_850, overage: 20_050 },
    ],
  });

  it('totals by event type, category, user and every day of a leap February', () => {
    expect(report.totals).toEqual({ events: 4, credits: 1200.5, overageCredits: 200.5, allowance: 1000, allowanceUsed: 1000, topUpsUsed: 0 });
    expect(report.byEventType).toEqual([
      { eventType: 'solutioning_hyper_canvas', category: 'ai_solutioning', events: 2, credits: 1180, overageCredits: 200 },
      { eventType: 'visuals_sketch', category: 'ai_visual', events: 2, credits: 20.5, overageCredits: 0.5 },
    ]);
    expect(report.byCategory.map((c) => c.category)).toEqual(['ai_solutioning', 'ai_visual']);
    expect(report.byUser).toEqual([
      { userId: null, events: 2, credits: 1180, overageCredits: 200 },
      { userId: 'u1', events: 1, credits: 12, overageCredits: 0 },
      { userId: '=u2', events: 1, credits: 8.5, overageCredits: 0.5 },
    ]);
    expect(report.byDay).toHaveLength(29);
    expect(report.byDay[28]).toEqual({ day: '2028-02-29', events: 3, credits: 1188.5, overageCredits: 200.5 });
    expect(report.byDay[1]).toEqual({ day: '2028-02-02', events: 0, credits: 0, overageCredits: 0 });
    expect(report.invoice.total).toBe(23.01); // 19 + 200.5 * 0.02 = 4.01
    expect(report).toMatchObject({ period: '2028-02', start: '2028-02-01T00:00:00.000Z', end: '2028-03-01T00:00:00.000Z', organizationName: 'Acme, Inc.' });
  });

  it('renders one CSV table with exact amounts and neutralized formulas', () => {
    const lines = monthlyReportCsv(report).split('\r\n');
    expect(lines[0]).toBe('section,key,category,events,credits,overage_credits,usd');
    expect(lines[1]).toBe('total,2028-02,,4,1200.50,200.50,');
    expect(lines).toContain('event_type,visuals_sketch,ai_visual,2,20.50,0.50,');
    expect(lines).toContain("user,'=u2,,1,8.50,0.50,");
    expect(lines).toContain('day,2028-02-29,,3,1188.50,200.50,');
    expect(lines).toContain('invoice,overage,,,200.50,,4.01');
    expect(lines).toContain('invoice,total,,,,,23.01');
    expect(lines.at(-1)).toBe('');
  });
});
