import type { PeriodUsage } from './utils/period-status';

export interface OrganizationRow {
  id: string;
  name: string;
  plan_name: string;
  billing_cycle: 'monthly' | 'annual';
  spend_cap: string | null;
  webhook_url: string | null;
  pending_plan: string | null;
  pending_plan_from: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface Organization {
  id: string;
  name: string;
  plan: string;
  billingCycle: 'monthly' | 'annual';
  spendCap: number | null;
  webhookUrl: string | null;
  pendingPlan: { plan: string; effectiveFrom: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** An organization in the operators' list: with where it stands this period. */
export type OrganizationListItem = Organization & { usage: PeriodUsage };
