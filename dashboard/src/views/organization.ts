import { apiPath } from '../api';
import type { Query } from '../api';
import { buildChartData } from '../chart-series';
import { describeError } from '../context';
import type { ViewContext } from '../context';
import { append, card, fill, field, h, loading, scrollBox, table, toast, uid } from '../dom';
import type { Child } from '../dom';
import {
  formatCredits,
  formatDate,
  formatDateTime,
  formatInt,
  formatMonth,
  formatPercent,
  formatPeriodLastDay,
  formatThreshold,
  formatUsd,
  plural,
  wholeDaysLeft,
} from '../format';
import { costRows, invoiceLineItems, previousPeriod } from '../money';
import type { ApiKeyUsage, Breakdown, BreakdownGroup, Budget, EventPage, Forecast, GrantsOverview, Hourly, Invoice, Notification, Recommendation, ReportListItem, Trends, UsageSummary } from '../types';
import { runsBody } from './runs';
import { chartDataTable, chartLegend, drawUsageChart } from './usage-chart';

const LIMIT_NAMES: Record<string, string> = {
  aiCallsPerMonth: 'AI calls per month',
  pdfExportsPerMonth: 'PDF exports per month',
  sessionLimit: 'Sessions',
  teamMembersLimit: 'Team members',
  storageLimit: 'Storage (MB)',
};

/** The organization's view: the period at a glance, chart, breakdowns, limits, warnings, money, log, reports. */
export async function renderOrganization(ctx: ViewContext, orgId: string): Promise<void> {
  const { api, main } = ctx;
  const base = (...rest: string[]) => apiPath('organizations', orgId, ...rest);
  const title = h('h1', null, 'Usage of ', h('span', { class: 'org-id' }, orgId));
  const subtitle = h('p', { class: 'subtitle' }, 'Loading the current period…');
  fill(main, h('div', { class: 'page-head' }, title, subtitle), loading());

  let summary: UsageSummary;
  let forecast: Forecast;
  try {
    [summary, forecast] = await Promise.all([api.get<UsageSummary>(base('usage')), api.get<Forecast>(base('usage', 'forecast'))]);
  } catch (error) {
    fill(main, h('div', { class: 'page-head' }, title), h('p', { class: 'error', role: 'alert' }, describeError(error)));
    return;
  }

  const lastDay = formatPeriodLastDay(summary.period.end);
  fill(subtitle, `${summary.plan.displayName} · ${formatMonth(summary.period.start)} (${formatDate(summary.period.start)} – ${lastDay}, UTC)`, pendingPlanText(summary));

  const grid = h('div', { class: 'grid' });
  fill(main, h('div', { class: 'page-head' }, title, subtitle), kpis(summary, forecast, lastDay), grid);

  const body = () => h('div', { class: 'card-body' }, loading());
  const chartCard = card('Daily usage and forecast', { id: 'chart', wide: true }, body());
  const breakdownCard = card('Where the credits went', { id: 'breakdowns', wide: true }, body());
  const limitsCard = card('Count limits', { id: 'limits' }, limitsBody(summary));
  const budgetsCard = card('Budgets per key and member', { id: 'budgets' }, body());
  const warningsCard = card('Warnings and notifications', { id: 'warnings' }, body());
  const recommendationCard = card('Plan recommendation', { id: 'recommendation' }, body());
  const invoiceCard = card('Upcoming invoice', { id: 'invoice' }, body());
  const creditsCard = card('Top-up credits', { id: 'credits' }, body());
  const hourlyCard = card('Today, hour by hour', { id: 'hourly' }, body());
  const costCard = card('Cost by event type and by user', { id: 'costs', wide: true }, body());
  // A customer portal link reads the usage page's routes only; runs are the organization's keys' to read.
  const runsCard = ctx.session.kind === 'portal' ? null : card('Agent runs', { id: 'runs', wide: true }, body());
  const logCard = card('Event log', { id: 'event-log', wide: true }, body());
  const reportsCard = card('Monthly trends and reports', { id: 'reports', wide: true }, body());
  append(grid, [chartCard, breakdownCard, invoiceCard, creditsCard, costCard, runsCard, hourlyCard, limitsCard, budgetsCard, warningsCard, recommendationCard, logCard, reportsCard]);

  /** Fills a card from one request; `shown` runs once the content is in the page. */
  const guard = async (target: HTMLElement, work: () => Promise<Child>, shown?: () => void) => {
    const into = target.querySelector(':scope > .card-body')!;
    try {
      fill(into, await work());
      shown?.();
    } catch (error) {
      fill(into, h('p', { class: 'error', role: 'alert' }, describeError(error)));
    }
  };

  const plot = h('div', { class: 'chart', id: 'usage-chart', role: 'img', 'aria-label': chartSummary(summary, forecast, lastDay) });
  let draw = () => undefined as void;
  await Promise.all([
    guard(
      chartCard,
      async () => {
      const days = await api.get<Breakdown>(base('usage', 'breakdown'), { groupBy: 'day', from: summary.period.start.slice(0, 10), to: forecast.asOf.slice(0, 10) });
      const data = buildChartData({
        periodStart: summary.period.start,
        periodEnd: summary.period.end,
        days: days.items.map((d) => ({ day: d.day!, credits: d.credits })),
        allowance: summary.allowance,
        topUps: summary.topUpsUsed + summary.topUpsRemaining,
        forecast,
      });
      draw = () => ctx.onLeave(drawUsageChart(plot, data));
      return h(
        'div',
        null,
        h('p', { class: 'chart-caption', id: 'forecast-caption' }, chartSummary(summary, forecast, lastDay)),
        forecastBasis(forecast),
        chartLegend({
          used: summary.used,
          forecast: forecast.projectedTotal,
          forecastLow: forecast.range.low,
          forecastHigh: forecast.range.high,
          allowance: summary.allowance,
          allowancePlusTopUps: data.allowancePlusTopUps ? data.allowancePlusTopUps[0] : null,
          today: data.daily[data.todayIndex] ?? null,
        }),
        plot,
        h('details', { class: 'chart-table' }, h('summary', null, 'Show the chart as a table'), chartDataTable(data)),
      );
      },
      // Drawn once its box is in the page: uPlot sizes itself to it.
      () => draw(),
    ),
    breakdowns(ctx, breakdownCard, orgId, summary, forecast),
    guard(budgetsCard, async () => budgetsBody((await api.get<{ items: Budget[] }>(base('usage', 'budgets'))).items)),
    guard(warningsCard, async () => warningsBody(summary, await api.get<{ items: Notification[] }>(base('notifications')))),
    guard(recommendationCard, async () => recommendationBody(await api.get<Recommendation>(base('usage', 'recommendation')))),
    invoiceSection(ctx, invoiceCard, orgId, summary),
    guard(creditsCard, async () => creditsBody(await api.get<GrantsOverview>(base('credits')))),
    guard(hourlyCard, async () => hourlyBody(await api.get<Hourly>(base('usage', 'hourly')))),
    guard(costCard, async () => costBody(ctx, orgId, summary)),
    runsCard ? guard(runsCard, async () => runsBody(ctx, orgId)) : null,
    eventLog(ctx, logCard, orgId),
    guard(reportsCard, async () => {
      const [trends, reports] = await Promise.all([api.get<Trends>(base('usage', 'trends'), { months: 6 }), api.get<{ items: ReportListItem[] }>(base('usage', 'reports'))]);
      return reportsBody(ctx, orgId, trends, reports.items);
    }),
  ]);
}

function pendingPlanText(summary: UsageSummary): string {
  const pending = summary.pendingPlan;
  if (!pending) return '';
  const name = typeof pending === 'string' ? pending : pending.plan;
  return ` · switches to ${name} next period`;
}

function chartSummary(summary: UsageSummary, forecast: Forecast, lastDay: string): string {
  const cap = forecast.hardCapCredits;
  const reachedText = cap !== null ? `the hard cap of ${formatCredits(cap)} credits was reached: nothing more is accepted this period` : 'the allowance is used up: further usage is overage';
  const when = (day: string) => (day === forecast.asOf.slice(0, 10) ? `today (${formatDate(day)})` : `on ${formatDate(day)}`);
  // Never a past day told as a future event: "reached" is said as a fact, a projected day is today or later.
  const exhaustion =
    forecast.exhaustion === 'reached'
      ? reachedText
      : forecast.exhaustion === 'projected' && forecast.projectedExhaustionDate
        ? cap !== null
          ? `at that rate the hard cap of ${formatCredits(cap)} credits is reached ${when(forecast.projectedExhaustionDate)}`
          : `at that rate the allowance runs out ${when(forecast.projectedExhaustionDate)}`
        : 'at that rate the allowance lasts the period';
  const atCap = cap !== null && forecast.projectedTotal >= cap;
  const end = atCap ? `the period ends at its hard cap of ${formatCredits(cap)} credits on ${lastDay}` : `the period ends near ${formatCredits(forecast.projectedTotal)} credits on ${lastDay}, likely between ${formatCredits(forecast.range.low)} and ${formatCredits(forecast.range.high)}`;
  return `Used ${formatCredits(summary.used)} of ${formatCredits(summary.allowance)} credits. At ${formatCredits(forecast.dailyRate)} credits a day (${rateSpan(forecast)}), ${end}; ${exhaustion}.`;
}

/** What the rate divides by: the window's whole days, or the fewer days really observed. */
function rateSpan(forecast: Forecast): string {
  return forecast.basis.rateDays < forecast.basis.windowDays ? `over the ${daysText(forecast.basis.rateDays)} observed` : `last ${plural(forecast.basis.windowDays, 'day')}`;
}

/** "1.5 days" (the forecast's days of data, to one decimal). */
function daysText(days: number): string {
  const rounded = Math.round(days * 10) / 10;
  return `${rounded.toFixed(1)} ${rounded === 1 ? 'day' : 'days'}`;
}

/** What the forecast stands on: how much data, which rate, and how the range is drawn. */
function forecastBasis(forecast: Forecast): HTMLElement {
  const r = forecast.range;
  const since = forecast.firstUsageDay ? ` (first usage ${formatDate(forecast.firstUsageDay)})` : '';
  const method =
    r.method === 'too-few-days'
      ? 'With fewer than 2 days in the window the range is set by rule: from no more usage to twice the rate.'
      : `The range is the daily rate ± 2 standard errors of the window's days: ${formatCredits(r.rateLow)} to ${formatCredits(r.rateHigh)} credits a day.`;
  if (forecast.firstUsageDay === null) {
    return h('p', { class: 'forecast-basis', id: 'forecast-basis' }, h('strong', null, 'No usage recorded this period yet: '), 'there is nothing to forecast from, so the projection is what is used so far.');
  }
  const early = forecast.daysOfData < 7 ? h('strong', null, `An early estimate: fewer than 7 days of data. `) : null;
  return h(
    'p',
    { class: 'forecast-basis', id: 'forecast-basis' },
    early,
    `Based on ${daysText(forecast.daysOfData)} of data${since}; rate ${formatCredits(forecast.dailyRate)} credits a day = ${formatCredits(forecast.basis.windowCredits)} credits ${forecast.basis.rateDays < forecast.basis.windowDays ? `over the ${daysText(forecast.basis.rateDays)} observed` : `over the last ${plural(forecast.basis.windowDays, 'day')}`}. `,
    forecast.hardCapCredits !== null ? `Nothing is projected past the hard cap of ${formatCredits(forecast.hardCapCredits)} credits. ` : '',
    method,
  );
}

function kpi(id: string, label: string, value: string, ...sub: Child[]): HTMLElement {
  return h('div', { class: 'kpi', 'data-testid': `kpi-${id}` }, h('p', { class: 'kpi-label' }, label), h('p', { class: 'kpi-value' }, value), h('p', { class: 'kpi-sub' }, ...sub));
}

/** The overage figure is an alarm only when there is some: 0.00 is shown as calm as any other zero. */
function alarmWhen(alarm: boolean, el: HTMLElement): HTMLElement {
  if (alarm) el.classList.add('alarm');
  return el;
}

function kpis(summary: UsageSummary, forecast: Forecast, lastDay: string): HTMLElement {
  const days = wholeDaysLeft(forecast.daysRemaining);
  const rate = summary.plan.overageRate;
  const percent = Math.min(100, summary.percentUsed);
  return h(
    'section',
    { class: 'kpis', 'aria-label': 'The period at a glance' },
    kpi(
      'used',
      'Used credits',
      formatCredits(summary.used),
      h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: `bar-fill${summary.percentUsed >= 100 ? ' over' : ''}`, style: `width:${percent}%` })),
      `${formatPercent(summary.percentUsed)} of the allowance · ${formatInt(summary.events)} events`,
    ),
    kpi('allowance', 'Monthly allowance', formatCredits(summary.allowance), `${formatCredits(summary.allowanceUsed)} used · ${formatCredits(Math.max(0, summary.allowance - summary.allowanceUsed))} left`),
    kpi('topups', 'Top-ups', formatCredits(summary.topUpsUsed), `used · ${formatCredits(summary.topUpsRemaining)} remaining`),
    alarmWhen(summary.overage.credits > 0, kpi('overage', 'Overage', formatCredits(summary.overage.credits), h('span', { 'data-testid': 'overage-cost' }, formatUsd(summary.overage.cost)), rate ? ` at ${formatUsd(rate).replace(/0+$/, '')} a credit` : ' · hard cap (no overage)', summary.overage.spendCap !== null ? ` · cap ${formatUsd(summary.overage.spendCap)}` : '')),
    kpi('remaining', 'Remaining credits', formatCredits(summary.remaining), 'allowance left + top-ups left'),
    kpi('days-left', 'Days left', String(days), `period ends ${lastDay}`),
  );
}

function meterRow(name: string, used: number, limit: number | null): Child[] {
  const fraction = limit ? Math.min(1, used / limit) : 0;
  return [
    name,
    h('span', { class: 'num' }, `${formatInt(used)} / ${formatInt(limit)}`),
    limit === null
      ? h('span', { class: 'muted' }, 'unlimited')
      : h('span', { class: 'bar', role: 'img', 'aria-label': `${Math.round(fraction * 100)}% used` }, h('span', { class: `bar-fill${fraction >= 1 ? ' over' : fraction >= 0.8 ? ' warn' : ''}`, style: `width:${fraction * 100}%` })),
  ];
}

function limitsBody(summary: UsageSummary): HTMLElement {
  const rows = Object.entries(summary.limits).map(([key, value]) => meterRow(LIMIT_NAMES[key] ?? key, value.used, value.limit));
  return h('div', { class: 'card-body' }, table('Count limits this period', ['Limit', { text: 'Used / limit', numeric: true }, 'Share'], rows, { id: 'limits-table', empty: 'This plan has no count limits.' }));
}

/** Used / limit of each budget in its current window: one runaway key or member stands out here. */
function budgetsBody(budgets: Budget[]): HTMLElement {
  const rows = budgets.map((b) => {
    const fraction = b.credits > 0 ? Math.min(1, b.used / b.credits) : 1;
    const who = b.scope === 'apiKey' ? `API key ${b.subjectName ?? b.subject.slice(0, 8)}` : `Member ${b.subject}`;
    return [
      who,
      b.period === 'day' ? `per day (${formatDate(b.window.start)})` : 'per month',
      h('span', { class: 'num' }, `${formatCredits(b.used)} / ${formatCredits(b.credits)}`),
      h('span', { class: 'bar', role: 'img', 'aria-label': `${Math.round(fraction * 100)}% used` }, h('span', { class: `bar-fill${fraction >= 1 ? ' over' : fraction >= 0.8 ? ' warn' : ''}`, style: `width:${fraction * 100}%` })),
    ];
  });
  return h(
    'div',
    null,
    table('Budgets in their current window', ['Who', 'Window', { text: 'Used / limit', numeric: true }, 'Share'], rows, { id: 'budgets-table', empty: 'No budgets: every key and member draws on the organization\'s credits alone.' }),
  );
}

function warningsBody(summary: UsageSummary, notifications: { items: Notification[] }): HTMLElement {
  // The current period's thresholds are the list above; the table is the history of the other periods, so
  // no notice is shown twice.
  const current = summary.period.start.slice(0, 7);
  const seen = new Set<string>();
  const earlier = notifications.items.filter((n) => {
    const key = `${n.period}|${n.type}|${n.threshold}`;
    if (n.period === current || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  // After a plan change the new allowance has its own crossings: each notice names the plan (and the
  // allowance) it was about, so two "80 %" lines are told apart.
  const active = summary.warnings.map((w) =>
    h(
      'li',
      { class: w.threshold >= 1 ? 'warning over' : 'warning' },
      h('strong', null, `${formatThreshold(w.threshold)} of the ${w.plan ? `${w.plan} plan's ` : ''}allowance reached`),
      ` · ${formatCredits(w.used)} of ${formatCredits(w.limit)} credits`,
      w.at ? ` · ${formatDateTime(w.at)}` : '',
    ),
  );
  return h(
    'div',
    null,
    h('h3', null, 'This period'),
    active.length ? h('ul', { class: 'warnings', id: 'active-warnings' }, active) : h('p', { class: 'muted' }, 'No threshold crossed this period.'),
    h('h3', null, 'Earlier periods'),
    table(
      'Notifications of earlier periods, newest first',
      ['When', 'Period', { text: 'Threshold', numeric: true }, { text: 'Used / of', numeric: true }],
      earlier.slice(0, 20).map((n) => [formatDateTime(n.createdAt), n.period, formatThreshold(n.threshold), `${formatCredits(n.used)} / ${formatCredits(n.limit)}`]),
      { id: 'notifications-table', empty: 'No notifications in earlier periods.' },
    ),
  );
}

function recommendationBody(r: Recommendation): HTMLElement {
  const e = r.evidence;
  const saving = (v: number | null) => (v === null ? 'its hard cap' : formatUsd(v));
  // A headline that tells the customer to switch only when the data supports it (the rule in the README).
  const headline = e.supported
    ? h(
        'p',
        { class: 'headline good', id: 'recommendation-headline' },
        e.savingRange.low === e.savingRange.high ? `Switch to ${r.recommendedPlan}: saves ${saving(e.savingRange.low)}` : `Switch to ${r.recommendedPlan}: saves ${saving(e.savingRange.low)} to ${saving(e.savingRange.high)} this period`,
      )
    : r.shouldChange
      ? h('p', { class: 'headline', id: 'recommendation-headline' }, `Stay on ${r.currentPlan} for now: no recommendation yet`)
      : h('p', { class: 'headline', id: 'recommendation-headline' }, `Stay on ${r.currentPlan}`);
  return h(
    'div',
    null,
    headline,
    h('p', { id: 'recommendation-reason' }, e.reason, '.'),
    h(
      'p',
      { class: 'muted', id: 'recommendation-rule' },
      `A change is recommended only with at least ${e.minDaysOfData} days of data (or when the credits already used cost less on the other plan) and when the other plan is cheaper at both ends of the forecast range (${formatCredits(e.projectedRange.low)} – ${formatCredits(e.projectedRange.high)} credits).`,
    ),
    table(
      `Cost of each plan for ${formatCredits(r.projectedCredits)} credits`,
      ['Plan', { text: `Cost for ${formatCredits(r.projectedCredits)} credits`, numeric: true }],
      r.options.map((o) => [
        h('span', null, o.plan, e.supported && o.plan === r.recommendedPlan ? h('span', { class: 'badge good' }, 'best') : null, o.plan === r.currentPlan ? h('span', { class: 'badge' }, 'current') : null),
        o.cost === null ? 'not enough (hard cap)' : formatUsd(o.cost),
      ]),
      { id: 'plan-options' },
    ),
  );
}

async function invoiceSection(ctx: ViewContext, target: HTMLElement, orgId: string, summary: UsageSummary): Promise<void> {
  const periodInput = h('input', { type: 'month', name: 'period', value: summary.period.start.slice(0, 7), required: true });
  const lines = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    fill(lines, loading());
    try {
      const inv = await ctx.api.get<Invoice>(apiPath('organizations', orgId, 'usage', 'invoice'), { period: periodInput.value });
      fill(
        lines,
        await invoiceLinesFor(ctx, orgId, inv),
        h('p', null, h('a', { href: `#/org/${encodeURIComponent(orgId)}/invoice/${inv.period}`, id: 'printable-invoice' }, `Printable view of ${inv.period}`)),
      );
    } catch (error) {
      fill(lines, h('p', { class: 'error', role: 'alert' }, describeError(error)));
    }
  };
  const form = h('form', { class: 'inline-form', onsubmit: (e: Event) => (e.preventDefault(), void load()) }, field('Period', periodInput), h('button', { type: 'submit' }, 'Show'));
  fill(target.querySelector(':scope > .card-body')!, form, lines);
  await load();
}

/** The invoice's overage split by event type needs the period's event-type breakdown (display names too). */
async function overageByType(ctx: ViewContext, orgId: string, inv: Invoice): Promise<{ name: string; overageCredits: number }[]> {
  if (!(inv.overageCredits > 0)) return [];
  const from = `${inv.period}-01`;
  const last = new Date(Date.UTC(Number(inv.period.slice(0, 4)), Number(inv.period.slice(5, 7)), 0)).toISOString().slice(0, 10);
  const b = await ctx.api.get<Breakdown>(apiPath('organizations', orgId, 'usage', 'breakdown'), { groupBy: 'eventType', from, to: last });
  return b.items.map((i) => ({ name: i.displayName ?? i.eventType ?? '', overageCredits: i.overageCredits }));
}

/** The invoice as line items in money (plan fee, overage by event type, top-ups, total). */
export async function invoiceLinesFor(ctx: ViewContext, orgId: string, inv: Invoice): Promise<HTMLElement> {
  const lines = invoiceLineItems(inv, await overageByType(ctx, orgId, inv), formatCredits);
  return h(
    'div',
    null,
    h('p', null, h('span', { class: `badge${inv.status === 'open' ? '' : ' good'}` }, inv.status === 'open' ? 'preview: period open' : inv.status), ` ${inv.period} · ${inv.plan} · ${inv.billingCycle} · ${formatCredits(inv.usedCredits)} of ${formatCredits(inv.includedCredits)} included credits used`),
    h(
      'div',
      scrollBox('Invoice lines'),
      h(
        'table',
        { id: 'invoice-lines', class: 'invoice-lines' },
        h('caption', { class: 'sr-only' }, `Invoice ${inv.period}, line items in ${inv.currency}`),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Item'), h('th', { scope: 'col' }, 'Quantity'), h('th', { scope: 'col', class: 'num' }, 'Amount'))),
        h(
          'tbody',
          null,
          lines.map((l) =>
            h(
              'tr',
              { class: `line-${l.kind}`, 'data-kind': l.kind },
              h(l.kind === 'total' ? 'th' : 'td', l.kind === 'total' ? { scope: 'row' } : null, l.label),
              h('td', null, l.detail),
              h('td', { class: 'num', 'data-testid': l.kind === 'total' ? 'invoice-total' : null }, formatUsd(l.amount)),
            ),
          ),
        ),
      ),
    ),
    h('p', { class: 'muted', hidden: !(inv.overageCost > 0) }, h('span', { 'data-testid': 'invoice-overage' }, formatUsd(inv.overageCost)), ' of overage in all, split by each event type\'s overage credits.'),
  );
}

const GROUPS: { group: Exclude<BreakdownGroup, 'day'>; title: string; key: 'eventType' | 'category' | 'userId' }[] = [
  { group: 'eventType', title: 'By event type', key: 'eventType' },
  { group: 'category', title: 'By category', key: 'category' },
  { group: 'user', title: 'By user', key: 'userId' },
];

async function breakdowns(ctx: ViewContext, target: HTMLElement, orgId: string, summary: UsageSummary, forecast: Forecast): Promise<void> {
  const from = h('input', { type: 'date', name: 'from', value: summary.period.start.slice(0, 10), required: true });
  const to = h('input', { type: 'date', name: 'to', value: forecast.asOf.slice(0, 10), required: true });
  const panes = h('div', { class: 'breakdowns', 'aria-live': 'polite' });
  const load = async () => {
    fill(panes, loading());
    try {
      const results = await Promise.all(GROUPS.map((g) => ctx.api.get<Breakdown>(apiPath('organizations', orgId, 'usage', 'breakdown'), { groupBy: g.group, from: from.value, to: to.value })));
      fill(
        panes,
        results.map((b, i) =>
          h(
            'div',
            { class: `breakdown breakdown-${GROUPS[i].group}`, 'data-testid': `breakdown-${GROUPS[i].group}` },
            h('h3', null, GROUPS[i].title),
            table(
              `Credits ${GROUPS[i].title.toLowerCase()}`,
              ['Name', { text: 'Events', numeric: true }, { text: 'Credits', numeric: true }, 'Share'],
              b.items.map((item) => [
                GROUPS[i].key === 'eventType' ? h('span', { title: item.eventType ?? '' }, item.displayName ?? item.eventType ?? '') : String(item[GROUPS[i].key] ?? '(no user)'),
                formatInt(item.events),
                formatCredits(item.credits),
                h('span', { class: 'share' }, h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill', style: `width:${Math.min(100, item.percent)}%` })), `${item.percent}%`),
              ]),
              { empty: 'No usage in this range.' },
            ),
          ),
        ),
      );
    } catch (error) {
      fill(panes, h('p', { class: 'error', role: 'alert' }, describeError(error)));
    }
  };
  const form = h('form', { class: 'inline-form', onsubmit: (e: Event) => (e.preventDefault(), void load()) }, field('From', from), field('To', to), h('button', { type: 'submit' }, 'Apply'));
  fill(target.querySelector(':scope > .card-body')!, form, panes);
  await load();
}

/** Turns a YYYY-MM-DD "to" day (inclusive) into the exclusive instant the API's `to` filter wants. */
function dayAfter(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString();
}

/** Why a streamed call ended, as its event's price breakdown keeps it (`breakdown.stopReason`). */
const STOP_REASONS: Record<string, { text: string; tone: string }> = {
  complete: { text: 'streamed · complete', tone: 'good' },
  credit_limit: { text: 'streamed · stopped at the credit limit', tone: 'warn' },
  client_disconnect: { text: 'streamed · the client disconnected', tone: 'warn' },
  error: { text: 'streamed · failed mid-stream', tone: 'bad' },
  hold_expired: { text: 'streamed · host lost, charged what it delivered', tone: 'warn' },
};

/** A streamed call's badge under its event type; nothing for an ordinary call (no stop reason). */
function streamBadge(breakdown: unknown): HTMLElement | null {
  const reason = breakdown && typeof breakdown === 'object' ? (breakdown as { stopReason?: unknown }).stopReason : undefined;
  if (typeof reason !== 'string') return null;
  const known = STOP_REASONS[reason] ?? { text: `streamed · ${reason}`, tone: '' };
  return h('span', { class: `badge stream-badge ${known.tone}`, 'data-testid': 'stop-reason', 'data-stop-reason': reason }, known.text);
}

async function eventLog(ctx: ViewContext, target: HTMLElement, orgId: string): Promise<void> {
  const path = apiPath('organizations', orgId, 'usage', 'events');
  const listId = uid('event-types');
  const eventType = h('input', { type: 'text', name: 'eventType', list: listId, autocomplete: 'off', placeholder: 'any' });
  const userId = h('input', { type: 'text', name: 'userId', autocomplete: 'off', placeholder: 'any' });
  const from = h('input', { type: 'date', name: 'from' });
  const to = h('input', { type: 'date', name: 'to' });
  const datalist = h('datalist', { id: listId });
  const rows = h('tbody');
  const status = h('p', { class: 'muted', role: 'status', id: 'event-log-status' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let cursor: string | null = null;
  const names = new Map<string, string>();

  const filters = (): Query => ({
    eventType: eventType.value.trim() || undefined,
    userId: userId.value.trim() || undefined,
    from: from.value ? `${from.value}T00:00:00Z` : undefined,
    to: to.value ? dayAfter(to.value) : undefined,
  });
  const load = async (append: boolean) => {
    if (!append) {
      rows.replaceChildren();
      cursor = null;
    }
    status.textContent = 'Loading…';
    try {
      const page = await ctx.api.get<EventPage>(path, { ...filters(), limit: 25, cursor: append ? cursor : undefined });
      for (const e of page.items) {
        rows.append(
          h(
            'tr',
            null,
            h('td', null, formatDateTime(e.occurredAt)),
            h('td', { title: e.eventType }, names.get(e.eventType) ?? e.eventType, streamBadge(e.breakdown)),
            h('td', null, e.category),
            h('td', null, e.userId ?? '–'),
            h('td', { class: 'num' }, formatCredits(e.credits)),
            h('td', { class: 'num' }, formatCredits(e.overageCredits)),
            h('td', { class: 'num' }, String(e.definitionVersion)),
          ),
        );
      }
      cursor = page.nextCursor;
      more.hidden = !cursor;
      status.textContent = rows.children.length === 0 ? 'No events match.' : `${plural(rows.children.length, 'event')} shown${cursor ? ', more available' : ''}.`;
    } catch (error) {
      status.textContent = describeError(error);
    }
  };
  more.addEventListener('click', () => void load(true));
  const download = h('button', { type: 'button', class: 'secondary', id: 'download-csv' }, 'Download CSV');
  download.addEventListener('click', async () => {
    try {
      await ctx.api.download(path, { ...filters(), format: 'csv' }, `usage-events-${orgId}.csv`);
    } catch (error) {
      toast(describeError(error), 'error');
    }
  });
  const form = h(
    'form',
    { class: 'inline-form filters', onsubmit: (e: Event) => (e.preventDefault(), void load(false)) },
    field('Event type', eventType),
    field('User', userId),
    field('From', from),
    field('To', to),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Filter'), download),
  );
  const tableEl = h(
    'div',
    scrollBox('Event log'),
    h(
      'table',
      { id: 'event-log-table' },
      h('caption', { class: 'sr-only' }, 'Recorded events, newest first'),
      h(
        'thead',
        null,
        h('tr', null, ['Occurred', 'Event type', 'Category', 'User'].map((t) => h('th', { scope: 'col' }, t)), ['Credits', 'Overage', 'Version'].map((t) => h('th', { scope: 'col', class: 'num' }, t))),
      ),
      rows,
    ),
  );
  fill(target.querySelector(':scope > .card-body')!, datalist, form, status, tableEl, more);
  // The filter's suggestions and the display names: the event types seen this period. A failure says so
  // where the suggestions would be used (the log itself still loads).
  const suggestions = h('p', { class: 'error', role: 'alert', id: 'event-type-suggestions-error', hidden: true });
  target.querySelector(':scope > .card-body')!.insertBefore(suggestions, status);
  try {
    const b = await ctx.api.get<Breakdown>(apiPath('organizations', orgId, 'usage', 'breakdown'), { groupBy: 'eventType' });
    for (const i of b.items) if (i.eventType) names.set(i.eventType, i.displayName ?? i.eventType);
    datalist.replaceChildren(...b.items.map((i) => h('option', { value: i.eventType ?? '', label: i.displayName ?? null })));
  } catch (error) {
    suggestions.hidden = false;
    suggestions.textContent = `Event type suggestions unavailable: ${describeError(error)}`;
  }
  await load(false);
}

function reportsBody(ctx: ViewContext, orgId: string, trends: Trends, reports: ReportListItem[]): HTMLElement {
  const trendRows = trends.items.map((t) => [t.period, formatInt(t.events), formatCredits(t.credits), formatCredits(t.overageCredits), t.change.percent === null ? '–' : `${t.change.percent > 0 ? '+' : ''}${t.change.percent}%`]);
  const reportRows = reports.map((r) => {
    const totals = (r.totals ?? {}) as { events?: number; credits?: number };
    const csv = h('button', { type: 'button', class: 'secondary small' }, 'CSV');
    csv.addEventListener('click', () => {
      ctx.api.download(apiPath('organizations', orgId, 'usage', 'reports', r.period), { format: 'csv' }, `usage-report-${orgId}-${r.period}.csv`).catch((error) => toast(describeError(error), 'error'));
    });
    const printable = h('a', { href: `#/org/${encodeURIComponent(orgId)}/invoice/${r.period}`, class: 'button-link small' }, 'Invoice');
    return [r.period, formatInt(totals.events), formatCredits(totals.credits), formatUsd(r.invoiceTotal as number | undefined), h('span', { class: 'actions' }, printable, ' ', csv)];
  });
  return h(
    'div',
    { class: 'two-col' },
    h(
      'div',
      null,
      h('h3', null, 'Last 6 months'),
      table('Monthly totals', ['Month', { text: 'Events', numeric: true }, { text: 'Credits', numeric: true }, { text: 'Overage', numeric: true }, { text: 'Change', numeric: true }], trendRows, { id: 'trends-table' }),
    ),
    h(
      'div',
      null,
      h('h3', null, 'Past invoices (closed periods)'),
      table('Monthly reports', ['Month', { text: 'Events', numeric: true }, { text: 'Credits', numeric: true }, { text: 'Invoiced', numeric: true }, 'Invoice and CSV'], reportRows, {
        id: 'reports-table',
        empty: 'No closed period yet: a report is written when a month closes.',
      }),
    ),
  );
}

const GRANT_STATES: Record<GrantsOverview['items'][number]['state'], string> = { active: 'active', 'expiring-soon': 'expires soon', expired: 'expired', 'used-up': 'used up' };

function creditsBody(g: GrantsOverview): HTMLElement {
  const soon = g.expiringSoon.credits > 0;
  return h(
    'div',
    null,
    h('p', { id: 'credits-summary' }, h('strong', null, formatCredits(g.remaining)), ' top-up credits usable.'),
    soon
      ? h('p', { class: 'warning', id: 'credits-expiring', role: 'note' }, h('strong', null, `${formatCredits(g.expiringSoon.credits)} credits expire within ${g.expiringSoonDays} days`), `, the first on ${formatDateTime(g.expiringSoon.firstExpiry)}.`)
      : h('p', { class: 'muted', id: 'credits-expiring' }, `Nothing expires within ${g.expiringSoonDays} days.`),
    table(
      'Top-ups, newest first',
      ['Granted', { text: 'Amount', numeric: true }, { text: 'Used', numeric: true }, { text: 'Remaining', numeric: true }, 'Expires', 'State'],
      g.items.map((i) => [
        h('span', { title: i.reason ?? '' }, formatDate(i.createdAt), i.reason ? h('span', { class: 'muted' }, ` · ${i.reason}`) : null),
        formatCredits(i.amount),
        formatCredits(i.used),
        formatCredits(i.remaining),
        i.expiresAt ? formatDateTime(i.expiresAt) : 'never',
        h('span', { class: `badge${i.state === 'expiring-soon' ? ' warn' : i.state === 'active' ? ' good' : ''}` }, GRANT_STATES[i.state]),
      ]),
      { id: 'credits-table', empty: 'No top-ups yet.' },
    ),
  );
}

function hourlyBody(hourly: Hourly): HTMLElement {
  const max = Math.max(1, ...hourly.items.map((i) => i.credits));
  const nowHour = hourly.items.filter((i) => i.elapsed).length - 1;
  return h(
    'div',
    null,
    h('p', { id: 'hourly-summary' }, `${formatCredits(hourly.totals.credits)} credits in ${plural(hourly.totals.events, 'event')} on ${formatDate(hourly.day)} (UTC) so far.`),
    h(
      'div',
      { class: 'hour-bars', 'aria-hidden': 'true' },
      hourly.items.map((i, n) =>
        h('span', { class: `hour-bar${i.elapsed ? '' : ' future'}${n === nowHour ? ' now' : ''}`, title: `${i.hour.slice(11, 16)}: ${formatCredits(i.credits)}` }, h('span', { class: 'hour-fill', style: `height:${(i.credits / max) * 100}%` })),
      ),
    ),
    h('div', { class: 'hour-axis', 'aria-hidden': 'true' }, h('span', null, '00:00'), h('span', null, '06:00'), h('span', null, '12:00'), h('span', null, '18:00'), h('span', null, '23:00')),
    h(
      'details',
      { class: 'chart-table' },
      h('summary', null, 'Show the hours as a table'),
      table(
        'Credits per hour today (UTC)',
        ['Hour (UTC)', { text: 'Events', numeric: true }, { text: 'Credits', numeric: true }],
        hourly.items.filter((i) => i.elapsed).map((i) => [i.hour.slice(11, 16), formatInt(i.events), formatCredits(i.credits)]),
        { id: 'hourly-table' },
      ),
    ),
  );
}

/** Which key spent what: each organization key's events, credits and share of the invoice; the admin key's apart. */
function apiKeyTable(perKey: ApiKeyUsage, invoice: Invoice): HTMLElement {
  const rows = perKey.items.map((k) => ({ key: k.apiKeyId, name: `${k.name} (${k.prefix})${k.revoked ? ', revoked' : ''}`, credits: k.credits, events: k.events }));
  if (perKey.unattributed.events > 0) rows.push({ key: '', name: 'Admin key (no organization key)', credits: perKey.unattributed.credits, events: perKey.unattributed.events });
  const costs = costRows(rows, invoice.total, null, null);
  return h(
    'div',
    { class: 'breakdown', id: 'api-key-usage' },
    h('h3', null, 'By API key'),
    table(
      'Usage per API key this period',
      ['Key', { text: 'Events', numeric: true }, { text: 'Credits', numeric: true }, { text: 'Cost', numeric: true }],
      rows.map((r, i) => [r.name, String(r.events), formatCredits(r.credits), formatUsd(costs[i].cost)]),
      { id: 'api-key-usage-table', empty: 'No usage this period.' },
    ),
  );
}

async function costBody(ctx: ViewContext, orgId: string, summary: UsageSummary): Promise<HTMLElement> {
  const base = (...rest: string[]) => apiPath('organizations', orgId, ...rest);
  const from = summary.period.start.slice(0, 10);
  const to = new Date(Math.min(Date.now(), Date.parse(summary.period.end) - 1)).toISOString().slice(0, 10);
  const prev = previousPeriod(summary.period.start);
  const breakdown = (groupBy: string, range: { from: string; to: string }) => ctx.api.get<Breakdown>(base('usage', 'breakdown'), { groupBy, ...range });
  const [invoice, types, users, perKey] = await Promise.all([
    ctx.api.get<Invoice>(base('usage', 'invoice'), { period: summary.period.start.slice(0, 7) }),
    breakdown('eventType', { from, to }),
    breakdown('user', { from, to }),
    ctx.api.get<ApiKeyUsage>(base('usage', 'api-keys'), { period: summary.period.start.slice(0, 7) }),
  ]);
  // The previous month's breakdowns answer for any range (zeros before the organization existed); its
  // invoice exists only from the organization's first period, so it is asked only when that month had
  // usage (usage implies the organization existed then). Any failure shows in place: nothing is swallowed.
  const previousRange = { from: prev.from, to: prev.to };
  const [previousTypes, previousUsers] = await Promise.all([breakdown('eventType', previousRange), breakdown('user', previousRange)]);
  const hadUsage = previousTypes.totals.credits > 0;
  const previousInvoice = hadUsage ? await ctx.api.get<Invoice>(base('usage', 'invoice'), { period: prev.key }) : null;
  const previous = previousInvoice ? ([previousInvoice, previousTypes, previousUsers] as const) : null;
  const rowsOf = (b: Breakdown, key: 'eventType' | 'userId') => b.items.map((i) => ({ key: String(i[key] ?? ''), name: key === 'eventType' ? (i.displayName ?? i.eventType ?? '') : (i.userId ?? '(no user)'), credits: i.credits }));
  const tableOf = (title: string, id: string, b: Breakdown, pb: Breakdown | null, key: 'eventType' | 'userId') => {
    const rows = costRows(rowsOf(b, key), invoice.total, previous && pb ? rowsOf(pb, key) : null, previous ? previous[0].total : null);
    return h(
      'div',
      { class: 'breakdown' },
      h('h3', null, title),
      table(
        `Cost ${title.toLowerCase()} this period and in ${prev.key}`,
        ['Name', { text: 'Credits', numeric: true }, { text: 'Cost', numeric: true }, { text: `${prev.key}`, numeric: true }, { text: 'Change', numeric: true }],
        rows.map((r) => [r.name, formatCredits(r.credits), formatUsd(r.cost), r.previousCost === null ? '–' : formatUsd(r.previousCost), r.changePercent === null ? '–' : `${r.changePercent > 0 ? '+' : ''}${r.changePercent}%`]),
        { id, empty: 'No usage this period.' },
      ),
    );
  };
  return h(
    'div',
    null,
    h(
      'p',
      { class: 'muted' },
      `Each row's share of this period's invoice (${formatUsd(invoice.total)} so far: plan fee and overage) in proportion to its credits, against ${prev.key}`,
      previous ? ` (${formatUsd(previous[0].total)}).` : ': no usage then, nothing to compare.',
    ),
    h('div', { class: 'two-col' }, tableOf('By event type', 'cost-by-event-type', types, previous?.[1] ?? null, 'eventType'), tableOf('By user', 'cost-by-user', users, previous?.[2] ?? null, 'userId')),
    apiKeyTable(perKey, invoice),
  );
}
