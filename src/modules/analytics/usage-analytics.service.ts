import { Injectable } from '@nestjs/common';
import Big from 'big.js';
import { Clock } from '../../common/clock/clock';
import { validationFailed } from '../../common/errors/domain-error';
import { hundredthsOrZero, hundredthsToNumber } from '../../common/money/credits';
import type { ApiKeyUsage, HourlyUsage } from '../../../libs/contracts/src/usage-page.types';
import { EventLogRepository } from './event-log.repository';
import { everyHour } from './utils/hourly';
import { addMonths, parsePeriodKey, periodKey, periodOf } from '../../common/time/period';
import { listedKeyPrefix } from '../api-keys/utils/api-key-secret';
import { EventRegistry } from '../events/event-registry.service';
import { OrganizationsService } from '../organizations/organizations.service';
import type { BreakdownQueryDto } from './dto/analytics-query.dto';
import { RollupRepository } from './rollup.repository';
import type { BreakdownGroup, BreakdownRow } from './rollup.repository';
import { addDays, dayStart, daysBetween, isIsoDay, isoDay, periodOfDay, periodStartDay } from './utils/dates';
import { planRollupRange } from './utils/rollup-range';
import { monthlyTrends } from './utils/trends';
import type { BreakdownItem } from '../../../libs/contracts/src/usage-page.types';

/** Longest ranges: a year of days, ten years of anything else (whole months come from monthly rollups). */
const MAX_DAYS: Record<BreakdownGroup, number> = { day: 366, eventType: 3660, category: 3660, user: 3660 };
const FIELD: Record<BreakdownGroup, string> = { eventType: 'eventType', category: 'category', user: 'userId', day: 'day' };

const percentOf = (part: number, total: number) => (total === 0 ? 0 : Number(new Big(part).times(100).div(total).round(2, Big.roundHalfUp).toFixed(2)));

/** Breakdowns and monthly trends (docs/analytics.md), read from the rollups only. */
@Injectable()
export class UsageAnalyticsService {
  constructor(
    private readonly organizations: OrganizationsService,
    private readonly rollups: RollupRepository,
    private readonly events: EventRegistry,
    private readonly eventLog: EventLogRepository,
    private readonly clock: Clock,
  ) {}

  /** One UTC day (today by default) hour by hour: credits, events and overage. */
  async hourly(organizationId: string, day?: string): Promise<HourlyUsage> {
    const now = this.clock.now();
    await this.organizations.getRow(organizationId);
    const target = day ?? isoDay(now);
    if (!isIsoDay(target)) throw validationFailed({ day: ['day must be a calendar date YYYY-MM-DD'] });
    const from = dayStart(target);
    const rows = await this.eventLog.hourly(organizationId, periodStartDay(periodOfDay(target)), from, dayStart(addDays(target, 1)));
    const items = everyHour(target, rows.map((r) => ({ hour: r.hour, events: r.events, credits: hundredthsOrZero(r.credits), overage: hundredthsOrZero(r.overage) })), now);
    const total = rows.reduce((s, r) => ({ events: s.events + r.events, credits: s.credits + hundredthsOrZero(r.credits) }), { events: 0, credits: 0 });
    return { organizationId, day: target, asOf: now.toISOString(), totals: { events: total.events, credits: hundredthsToNumber(total.credits) }, items };
  }

  /** Which organization API key spent what in a period (the current one by default). */
  async byApiKey(organizationId: string, key: string | undefined): Promise<ApiKeyUsage> {
    await this.organizations.getRow(organizationId);
    const period = key === undefined ? periodOf(this.clock.now()) : parsePeriodKey(key);
    const rows = await this.eventLog.byApiKey(organizationId, periodStartDay(period));
    // Each row's figures once, in integer hundredths; the admin key's (api_key_id null) row apart.
    const figured = rows.map((r) => ({ r, f: { events: Number(r.events), credits: hundredthsOrZero(r.credits), overage: hundredthsOrZero(r.overage) } }));
    const total = figured.reduce((s, { f }) => ({ events: s.events + f.events, credits: s.credits + f.credits, overage: s.overage + f.overage }), { events: 0, credits: 0, overage: 0 });
    const shown = (f: typeof total) => ({ events: f.events, credits: hundredthsToNumber(f.credits), overageCredits: hundredthsToNumber(f.overage), percent: percentOf(f.credits, total.credits) });
    const keyed = figured.filter(({ r }) => r.api_key_id !== null).sort((a, b) => b.f.credits - a.f.credits || a.r.api_key_id!.localeCompare(b.r.api_key_id!));
    const none = figured.find(({ r }) => r.api_key_id === null);
    return {
      organizationId,
      period: periodKey(period),
      totals: { events: total.events, credits: hundredthsToNumber(total.credits), overageCredits: hundredthsToNumber(total.overage) },
      // A key deleted outright would have no row; keys are only ever revoked, so name and prefix are there.
      items: keyed.map(({ r, f }) => ({ apiKeyId: r.api_key_id!, name: r.name ?? '(unknown key)', prefix: r.prefix === null ? '' : listedKeyPrefix(r.prefix), revoked: r.revoked_at !== null, ...shown(f) })),
      unattributed: shown(none?.f ?? { events: 0, credits: 0, overage: 0 }),
    };
  }

  async breakdown(organizationId: string, query: BreakdownQueryDto) {
    const now = this.clock.now();
    await this.organizations.getRow(organizationId);
    const groupBy = query.groupBy ?? 'eventType';
    const to = query.to ?? isoDay(now);
    if (!isIsoDay(to)) throw validationFailed({ to: ['to must be a calendar date YYYY-MM-DD'] });
    // Default: from the start of the period `to` falls in (the current period when neither is given).
    const from = query.from ?? periodStartDay(periodOfDay(to));
    if (!isIsoDay(from)) throw validationFailed({ from: ['from must be a calendar date YYYY-MM-DD'] });
    if (from > to) throw validationFailed({ to: ['to must not be before from'] });
    if (daysBetween(from, to) + 1 > MAX_DAYS[groupBy]) throw validationFailed({ to: [`a ${groupBy} breakdown covers at most ${MAX_DAYS[groupBy]} days`] });

    const plan = groupBy === 'day' ? { monthly: null, daily: [{ from, to }] } : planRollupRange(from, to);
    let rows = await this.rollups.breakdown(organizationId, plan, groupBy);
    if (groupBy === 'day') rows = everyDay(from, to, rows);
    else rows.sort((a, b) => b.credits - a.credits || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

    const total = rows.reduce((s, r) => ({ events: s.events + r.events, credits: s.credits + r.credits, overage: s.overage + r.overage }), { events: 0, credits: 0, overage: 0 });
    return {
      organizationId,
      groupBy,
      from,
      to,
      totals: { events: total.events, credits: hundredthsToNumber(total.credits), overageCredits: hundredthsToNumber(total.overage) },
      items: rows.map((r): BreakdownItem => ({
        [FIELD[groupBy]]: groupBy === 'user' && r.key === '' ? null : r.key,
        // The name customers know the event by (the id when the definition is no longer in the catalogue).
        ...(groupBy === 'eventType' ? { displayName: this.events.get(r.key)?.config.displayName ?? r.key, category: r.category } : {}),
        events: r.events,
        credits: hundredthsToNumber(r.credits),
        overageCredits: hundredthsToNumber(r.overage),
        percent: percentOf(r.credits, total.credits),
      })),
    };
  }

  async trends(organizationId: string, months = 6) {
    const now = this.clock.now();
    await this.organizations.getRow(organizationId);
    const current = periodOf(now);
    // One more month than shown: the first one's change needs the month before it.
    const periods = Array.from({ length: months + 1 }, (_, i) => addMonths(current, i - months));
    const totals = await this.rollups.monthlyTotals(organizationId, periodStartDay(periods[0]), periodStartDay(current));
    return { organizationId, months, asOf: now.toISOString(), items: monthlyTrends(periods, totals) };
  }
}

/** Every day of the range in order, zero where nothing was used (a chart needs the gaps). */
function everyDay(from: string, to: string, rows: BreakdownRow[]): BreakdownRow[] {
  const byDay = new Map(rows.map((r) => [r.key, r]));
  return Array.from({ length: daysBetween(from, to) + 1 }, (_, i) => {
    const day = addDays(from, i);
    return byDay.get(day) ?? { key: day, category: null, events: 0, credits: 0, overage: 0 };
  });
}
