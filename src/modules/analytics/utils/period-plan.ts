import type { Period } from '../../../common/time/period';

/**
 * The plan an organization is on during `period` when no balance row records it: a `next_period` change
 * due by the period start already counts, even if nothing has applied it to the row yet.
 */
export function planNameForPeriod(org: { plan_name: string; pending_plan: string | null; pending_plan_from: Date | string | null }, period: Period): string {
  if (org.pending_plan && org.pending_plan_from && new Date(org.pending_plan_from).getTime() <= period.start.getTime()) return org.pending_plan;
  return org.plan_name;
}
