// Response shapes of the API the dashboard reads (see /api/docs). Only the fields the page uses; the usage
// page's newer ones come from libs/contracts, shared with the service.

import type { CreatedPortalSession, ForecastRange, GrantsOverview, HourlyUsage, RecommendationEvidence } from '../../libs/contracts/src/usage-page.types';

export type Scope = 'track' | 'read' | 'manage';

export type Session =
  | { kind: 'admin' }
  | { kind: 'organization'; organizationId: string; scopes: Scope[] }
  /** A customer portal link: one organization's usage page, read-only, until expiresAt. */
  | { kind: 'portal'; organizationId: string; scopes: Scope[]; expiresAt: string };

export interface Period {
  start: string;
  end: string;
}

export interface Warning {
  type: string;
  threshold: number;
  used: number;
  limit: number;
  at?: string;
}

export interface UsageSummary {
  organizationId: string;
  plan: { name: string; displayName: string; monthlyCredits: number; overageRate: number | null };
  pendingPlan: { plan: string; effectiveFrom?: string } | string | null;
  period: Period;
  allowance: number;
  used: number;
  allowanceUsed: number;
  topUpsUsed: number;
  topUpsRemaining: number;
  remaining: number;
  overage: { credits: number; cost: number; spendCap: number | null };
  percentUsed: number;
  events: number;
  limits: Record<string, { used: number; limit: number | null }>;
  warnings: Warning[];
}

export interface Forecast {
  organizationId: string;
  plan: string;
  period: string;
  start: string;
  end: string;
  asOf: string;
  allowance: number;
  topUpsAvailable: number;
  usedCredits: number;
  dailyRate: number;
  projectedTotal: number;
  projectedExhaustionDate: string | null;
  daysRemaining: number;
  basis: { windowDays: number; windowCredits: number; from?: string; to?: string };
  /** Where the period may end: the rate ± 2 standard errors of the window's days (or a stated rule under 2 days). */
  range: ForecastRange;
  /** Days since the first day with usage this period. */
  daysOfData: number;
  firstUsageDay: string | null;
}

export type BreakdownGroup = 'eventType' | 'category' | 'user' | 'day';

export interface BreakdownItem {
  eventType?: string;
  displayName?: string;
  category?: string;
  userId?: string | null;
  day?: string;
  events: number;
  credits: number;
  overageCredits: number;
  percent: number;
}

export interface Breakdown {
  groupBy: BreakdownGroup;
  from: string;
  to: string;
  totals: { events: number; credits: number; overageCredits: number };
  items: BreakdownItem[];
}

export interface Trends {
  items: { period: string; events: number; credits: number; overageCredits: number; change: { events: number; credits: number; percent: number | null } }[];
}

export interface Recommendation {
  currentPlan: string;
  recommendedPlan: string;
  projectedCredits: number;
  currentCost: number | null;
  recommendedCost: number | null;
  saving: number | null;
  shouldChange: boolean;
  reason: string;
  options: { plan: string; cost: number | null }[];
  evidence: RecommendationEvidence;
}

export interface Invoice {
  organizationId?: string;
  start?: string;
  end?: string;
  period: string;
  status: string;
  billingCycle: string;
  currency: string;
  plan: string;
  planPrice: number;
  includedCredits: number;
  usedCredits: number;
  overageCredits: number;
  overageRate: number | null;
  overageCost: number;
  topUpCredits: number;
  total: number;
}

export interface UsageEvent {
  id: string;
  eventType: string;
  category: string;
  userId: string | null;
  occurredAt: string;
  credits: number;
  fromAllowance: number;
  fromTopUps: number;
  overageCredits: number;
  definitionVersion: number;
}

export interface EventPage {
  items: UsageEvent[];
  nextCursor: string | null;
}

export interface ReportListItem {
  period: string;
  [key: string]: unknown;
}

/** A budget of a key or member with its use in the current window (issue 17). */
export interface Budget {
  id: string;
  scope: 'apiKey' | 'user';
  subject: string;
  subjectName: string | null;
  period: 'month' | 'day';
  credits: number;
  used: number;
  remaining: number;
  window: { start: string; end: string };
}

export interface Notification {
  id: string;
  period: string;
  type: string;
  threshold: number;
  used: number;
  limit: number;
  createdAt: string;
}

export interface EventDefinition {
  eventType: string;
  displayName: string;
  description: string;
  category: string;
  baseCredits: number;
  endpoint: string | null;
  multipliers: { complexity: { min: number; max: number } | null; features: Record<string, number> };
  limitKey: string | null;
  metadata: Record<string, unknown>;
  /** Priced quantities (issue 17): unit name -> credits per unit; kept as is by the editor. */
  units?: Record<string, number>;
  maxUnits?: Record<string, number>;
  isActive: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface PlanDefinition {
  name: string;
  displayName: string;
  description: string;
  monthlyCredits: number;
  pricing: { monthly: number; annual: number };
  limits: Record<string, number | null>;
  features: string[];
  overageRate: number | null;
  warningThresholds: number[];
  isActive: boolean;
  sortOrder: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface HistoryEntry {
  version: number;
  action: string;
  actor: string;
  isActive: boolean;
  createdAt: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export interface CacheStats {
  registry: string;
  hits: number;
  misses: number;
  invalidationsReceived: number;
  refreshes: number;
  entries: number;
  lastRefresh: string | null;
  ttlSeconds: number;
  transport: string;
}

export interface Organization {
  id: string;
  name: string;
  plan: string;
  billingCycle: string;
  spendCap: number | null;
  webhookUrl: string | null;
  pendingPlan: unknown;
  createdAt: string;
}

export interface ApiKeyView {
  id: string;
  name: string;
  scopes: Scope[];
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface CreatedApiKey {
  id: string;
  name: string;
  scopes: Scope[];
  key: string;
  prefix: string;
}

export interface Grant {
  id: string;
  amount: number;
  remaining?: number;
  expiresAt: string | null;
  reason?: string | null;
  createdAt: string;
}

export interface JobRun {
  id: string;
  job: string;
  trigger: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  rows: number | null;
  error: string | null;
}

export interface JobView {
  name: string;
  description: string;
  schedule: string;
  scheduled: boolean;
  runningHere: boolean;
  lastRun: JobRun | null;
  lastSuccess: JobRun | null;
  recentRuns: JobRun[];
}

export interface JobsOverview {
  instanceId: string;
  jobsEnabled: boolean;
  jobs: JobView[];
  alerts: { open: number; recent: ReconciliationAlert[] };
}

export interface ReconciliationAlert {
  id: string;
  organizationId: string;
  kind: string;
  period: string | null;
  status: 'open' | 'resolved';
  resolution: string | null;
  details: Record<string, unknown>;
  firstSeenAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
}

export type PortalSession = CreatedPortalSession;

export type { GrantsOverview };
export type Hourly = HourlyUsage;
