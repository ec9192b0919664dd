// Response shapes of the API the dashboard reads: the generated contract types (libs/contracts), which are
// generated from what the service's handlers return and describe the served OpenAPI document. No hand copies.
import type * as Api from '../../libs/contracts/src/api.generated';

type Item<T extends { items: unknown[] }> = T['items'][number];

export type Scope = Api.ApiKeyView['scopes'][number];
export type Session = Api.DashboardSession;
export type UsageSummary = Api.UsageSummary;
export type Period = UsageSummary['period'];
export type Warning = UsageSummary['warnings'][number];
export type Forecast = Api.UsageForecast;
export type Breakdown = Api.UsageBreakdown;
export type BreakdownGroup = Breakdown['groupBy'];
export type BreakdownItem = Item<Breakdown>;
export type Trends = Api.UsageTrends;
export type Recommendation = Api.PlanRecommendation;
export type Invoice = Api.Invoice;
/** The accepted-events page of the event log (the refused-events page has `status: 'refused'` items). */
export type EventPage = Exclude<Api.EventLogPage, { items: Array<{ status: 'refused' }> }>;
export type UsageEvent = Item<EventPage>;
export type ReportListItem = Item<Api.ReportList>;
export type Budget = Item<Api.BudgetUsageList>;
export type Notification = Item<Api.NotificationList>;
export type EventDefinition = Api.EventDefinition;
export type PlanDefinition = Api.PlanDefinition;
export type HistoryEntry = Item<Api.EventDefinitionHistory>;
export type CacheStats = Api.RegistryStats;
export type Organization = Api.OrganizationListItem;
export type ApiKeyView = Api.ApiKeyView;
export type CreatedApiKey = Api.CreatedApiKey;
export type Grant = Item<Api.CreditGrantList>;
export type JobRun = Api.JobRunView;
export type JobsOverview = Api.JobsOverview;
export type JobView = JobsOverview['jobs'][number];
export type ReconciliationAlert = Api.AlertView;
export type PortalSession = Api.CreatedPortalSession;
export type GrantsOverview = Api.OrganizationGrants;
export type Hourly = Api.HourlyUsage;
export type ApiKeyUsage = Api.ApiKeyUsage;
export type RunList = Api.RunList;
export type RunSummary = Api.RunSummary;
export type RunView = Api.RunView;
