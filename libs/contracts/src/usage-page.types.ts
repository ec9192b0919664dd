// Response shapes of the customer usage page's API (forecast range and evidence, top-ups, hours, portal
// links), shared by the service and the dashboard: one source, so a change of shape is a compile error in both.
// Pure types only: this folder has no runtime dependency.

/** `GET …/usage/forecast` `range`: where the period may end. */
export interface ForecastRange {
  /** Credits per day at the two ends of the range, 2 decimals. */
  rateLow: number;
  rateHigh: number;
  /** Credits at period end at those rates, 2 decimals. */
  low: number;
  high: number;
  /**
   * `standard-error`: the daily rate ± 2 standard errors of the window's daily values (about a 95% interval
   * for the mean rate); `too-few-days`: fewer than 2 days, from no more usage to twice the rate.
   */
  method: 'standard-error' | 'too-few-days';
}

/** `GET …/usage/recommendation` `evidence`: whether the data supports telling the customer to switch. */
export interface RecommendationEvidence {
  supported: boolean;
  daysOfData: number;
  minDaysOfData: number;
  projectedRange: { low: number; high: number };
  /** USD saved by switching at the low and high ends of the range; null where the current plan cannot cover it. */
  savingRange: { low: number | null; high: number | null };
  checks: {
    /** At least minDaysOfData days of data, or the credits already used are cheaper on the other plan. */
    enoughData: boolean;
    /** The other plan is cheaper at both ends of the range: the saving is larger than the forecast's uncertainty. */
    cheaperAcrossRange: boolean;
  };
  reason: string;
}

export type GrantState = 'active' | 'expiring-soon' | 'expired' | 'used-up';

export interface GrantStatus {
  id: string;
  amount: number;
  used: number;
  remaining: number;
  expiresAt: string | null;
  reason: string | null;
  createdAt: string;
  state: GrantState;
}

/** `GET /api/organizations/:orgId/credits` (without organizationId). */
export interface GrantsOverview {
  asOf: string;
  expiringSoonDays: number;
  /** Credits still usable: unexpired grants' remaining. */
  remaining: number;
  /** Of those, what expires within expiringSoonDays, and the first such expiry. */
  expiringSoon: { credits: number; firstExpiry: string | null };
  items: GrantStatus[];
}

export interface HourItem {
  /** Hour start, ISO instant (UTC). */
  hour: string;
  events: number;
  credits: number;
  overageCredits: number;
  /** Whether the hour has begun (a later hour of today is not "zero usage" but not yet). */
  elapsed: boolean;
}

/** `GET …/usage/hourly`. */
export interface HourlyUsage {
  organizationId: string;
  day: string;
  asOf: string;
  totals: { events: number; credits: number };
  items: HourItem[];
}

/** `POST /api/admin/organizations/:orgId/portal-sessions` (201). */
export interface CreatedPortalSession {
  /** The link's id: what `DELETE …/portal-sessions/:id` revokes it by. */
  id: string;
  organizationId: string;
  url: string;
  expiresAt: string;
}

/** `DELETE …/portal-sessions/:id` (200): one link, as stored (never its token). */
export interface PortalSessionView {
  id: string;
  organizationId: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  /** When the link was revoked (the first revocation: repeating it changes nothing), or null. */
  revokedAt: string | null;
  revokedBy: string | null;
}

/** `DELETE …/portal-sessions` (200): every link of the organization that still worked is revoked. */
export interface PortalSessionsRevocation {
  organizationId: string;
  /** How many links worked until this call (unexpired, not yet revoked); 0 on a repeat. */
  revoked: number;
  revokedAt: string;
}

/**
 * One row of `GET …/usage/breakdown`: the grouping field of `groupBy` (`eventType` with its `displayName` and
 * `category`, `category`, `userId` (null: events without a user) or `day`), then the figures.
 */
export interface BreakdownItem {
  eventType?: string;
  displayName?: string;
  category?: string | null;
  userId?: string | null;
  day?: string;
  events: number;
  credits: number;
  overageCredits: number;
  percent: number;
}

/** `GET …/usage/api-keys`: what each organization API key spent in a period (which key spent what). */
export interface ApiKeyUsage {
  organizationId: string;
  /** YYYY-MM */
  period: string;
  totals: { events: number; credits: number; overageCredits: number };
  /** Keys with usage in the period, most credits first. */
  items: Array<{ apiKeyId: string; name: string; prefix: string; revoked: boolean; events: number; credits: number; overageCredits: number; percent: number }>;
  /** Events made with the admin key (or recorded before events kept their key): not any organization key's. */
  unattributed: { events: number; credits: number; overageCredits: number; percent: number };
}
