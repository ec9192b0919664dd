import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsFromNumber, hundredthsToDecimalString, hundredthsToNumber } from '../../../common/money/credits';
import { daysInPeriod, periodKey } from '../../../common/time/period';
import type { Period } from '../../../common/time/period';
import { csvLine } from './csv';
import { addDays, periodStartDay } from './dates';
import type { IsoDay } from './dates';
import type { InvoiceLines } from './invoice';

export interface ReportRollupRow {
  eventType: string;
  category: string;
  userId: string | null;
  events: number;
  credits: CreditHundredths;
  overage: CreditHundredths;
}

export interface ReportDayRow {
  day: IsoDay;
  events: number;
  credits: CreditHundredths;
  overage: CreditHundredths;
}

export interface MonthlyReportInput {
  organization: { id: string; name: string; billingCycle: string };
  plan: { name: string; displayName: string; monthlyCredits: number; overageRate: number | null };
  period: Period;
  generatedAt: Date;
  /** The frozen balance row of the period. */
  balance: { allowance: CreditHundredths; consumed: CreditHundredths; allowanceUsed: CreditHundredths; grantsUsed: CreditHundredths; overage: CreditHundredths; events: number };
  invoice: InvoiceLines;
  /** Monthly rollup rows of the period (one per event type, category and user). */
  rows: ReportRollupRow[];
  /** Daily totals of the period; missing days are zero. */
  days: ReportDayRow[];
}

export interface ReportLine {
  events: number;
  credits: number;
  overageCredits: number;
}

export interface MonthlyReport {
  organizationId: string;
  organizationName: string;
  period: string;
  start: string;
  end: string;
  generatedAt: string;
  plan: MonthlyReportInput['plan'];
  billingCycle: string;
  totals: ReportLine & { allowance: number; allowanceUsed: number; topUpsUsed: number };
  invoice: InvoiceLines;
  byEventType: Array<ReportLine & { eventType: string; category: string }>;
  byCategory: Array<ReportLine & { category: string }>;
  byUser: Array<ReportLine & { userId: string | null }>;
  byDay: Array<ReportLine & { day: IsoDay }>;
}

interface Sum {
  events: number;
  credits: CreditHundredths;
  overage: CreditHundredths;
}

function group<K extends string>(rows: ReportRollupRow[], key: (r: ReportRollupRow) => K): Map<K, Sum> {
  const sums = new Map<K, Sum>();
  for (const r of rows) {
    const k = key(r);
    const s = sums.get(k) ?? { events: 0, credits: 0, overage: 0 };
    s.events += r.events;
    s.credits += r.credits;
    s.overage += r.overage;
    sums.set(k, s);
  }
  return sums;
}

const line = (s: Sum): ReportLine => ({ events: s.events, credits: hundredthsToNumber(s.credits), overageCredits: hundredthsToNumber(s.overage) });

/** Biggest consumers first, ties by name: a report reads top-down. */
function byCredits<T extends { credits: number }>(items: Array<[string, T]>): Array<[string, T]> {
  return items.sort((a, b) => b[1].credits - a[1].credits || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** The organization's monthly report (docs/operations.md), frozen at period close. */
export function buildMonthlyReport(input: MonthlyReportInput): MonthlyReport {
  const { balance } = input;
  const types = group(input.rows, (r) => `${r.eventType}\u0000${r.category}`);
  const categories = group(input.rows, (r) => r.category);
  const users = group(input.rows, (r) => r.userId ?? '');
  const days = new Map(input.days.map((d) => [d.day, d]));
  const first = periodStartDay(input.period);
  return {
    organizationId: input.organization.id,
    organizationName: input.organization.name,
    period: periodKey(input.period),
    start: input.period.start.toISOString(),
    end: input.period.end.toISOString(),
    generatedAt: input.generatedAt.toISOString(),
    plan: input.plan,
    billingCycle: input.organization.billingCycle,
    totals: {
      events: balance.events,
      credits: hundredthsToNumber(balance.consumed),
      overageCredits: hundredthsToNumber(balance.overage),
      allowance: hundredthsToNumber(balance.allowance),
      allowanceUsed: hundredthsToNumber(balance.allowanceUsed),
      topUpsUsed: hundredthsToNumber(balance.grantsUsed),
    },
    invoice: input.invoice,
    byEventType: byCredits([...types].map(([k, s]) => [k, line(s)] as [string, ReportLine])).map(([k, l]) => {
      const [eventType, category] = k.split('\u0000');
      return { eventType, category, ...l };
    }),
    byCategory: byCredits([...categories].map(([k, s]) => [k, line(s)] as [string, ReportLine])).map(([category, l]) => ({ category, ...l })),
    byUser: byCredits([...users].map(([k, s]) => [k, line(s)] as [string, ReportLine])).map(([userId, l]) => ({ userId: userId === '' ? null : userId, ...l })),
    byDay: Array.from({ length: daysInPeriod(input.period) }, (_, i) => {
      const day = addDays(first, i);
      const d = days.get(day);
      return { day, ...line(d ?? { events: 0, credits: 0, overage: 0 }) };
    }),
  };
}

const amount = (credits: number) => hundredthsToDecimalString(hundredthsFromNumber(credits));

/** One table: `section,key,category,events,credits,overage_credits,usd`; credits with 2 decimals, USD lines of the invoice last. */
export function monthlyReportCsv(report: MonthlyReport): string {
  const out = [csvLine(['section', 'key', 'category', 'events', 'credits', 'overage_credits', 'usd'])];
  const row = (section: string, key: string | null, category: string | null, l: ReportLine) => csvLine([section, key, category, l.events, amount(l.credits), amount(l.overageCredits), null]);
  out.push(row('total', report.period, null, report.totals));
  for (const r of report.byEventType) out.push(row('event_type', r.eventType, r.category, r));
  for (const r of report.byCategory) out.push(row('category', r.category, r.category, r));
  for (const r of report.byUser) out.push(row('user', r.userId, null, r));
  for (const r of report.byDay) out.push(row('day', r.day, null, r));
  const i = report.invoice;
  const usd = (key: string, value: number, credits: number | null = null) => csvLine(['invoice', key, null, null, credits === null ? null : amount(credits), null, value.toFixed(2)]);
  out.push(usd(`plan:${i.plan}`, i.planPrice, i.includedCredits));
  out.push(usd('overage', i.overageCost, i.overageCredits));
  out.push(usd('total', i.total));
  return out.join('');
}
