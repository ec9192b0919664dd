import type { HourItem } from '../../../../libs/contracts/src/usage-page.types';
import type { CreditHundredths } from '../../../common/money/credits';
import { hundredthsToNumber } from '../../../common/money/credits';

const HOUR_MS = 3_600_000;

export interface HourRow {
  /** Hour start as an ISO instant (UTC). */
  hour: string;
  events: number;
  credits: CreditHundredths;
  overage: CreditHundredths;
}

export type { HourItem };

/** The 24 hours of a UTC day in order, zero where nothing was used, each marked elapsed or not at `now`. */
export function everyHour(day: string, rows: HourRow[], now: Date): HourItem[] {
  const start = Date.parse(`${day}T00:00:00.000Z`);
  const byHour = new Map(rows.map((r) => [Date.parse(r.hour), r]));
  return Array.from({ length: 24 }, (_, i) => {
    const at = start + i * HOUR_MS;
    const row = byHour.get(at);
    return {
      hour: new Date(at).toISOString(),
      events: row?.events ?? 0,
      credits: hundredthsToNumber(row?.credits ?? 0),
      overageCredits: hundredthsToNumber(row?.overage ?? 0),
      elapsed: at <= now.getTime(),
    };
  });
}
