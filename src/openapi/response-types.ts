/**
 * What every operation answers, as TypeScript infers it from the handler: the one source of the OpenAPI
 * document's response schemas (scripts/generate-contract-schemas.mjs turns this file into
 * libs/contracts/src/api-schemas.generated.json, and that into the dashboard's and the client's types), so
 * the document cannot say one thing while a handler returns another. A changed handler changes the
 * generated schemas; the unit spec beside the generator fails until they are regenerated.
 *
 * An alias here must not take the name of the type it stands for (the generator would make the schema
 * refer to itself): where a handler already returns a named contract type, use it directly.
 *
 * `OperationResponses` is keyed by Nest's operationId (`<Controller>_<method>`); an operation with a
 * second success status adds `<operationId>:<status>`. Types only: nothing here runs.
 */
import type { StreamableFile } from '@nestjs/common';
import type { HealthCheckResult } from '@nestjs/terminus';
import type { AdminConfigController } from '../modules/admin-config/admin-config.controller';
import type { LlmToolsController, StructuringToolsController } from '../modules/ai-tools/ai-tools.controllers';
import type { BudgetsAdminController } from '../modules/budgets/budgets-admin.controller';
import type { BudgetsUsageController } from '../modules/budgets/budgets-usage.controller';
import type { AnalyticsController } from '../modules/analytics/analytics.controller';
import type { ApiKeyIdentityController } from '../modules/api-keys/api-key-identity.controller';
import type { ApiKeysAdminController } from '../modules/api-keys/api-keys-admin.controller';
import type { DashboardSessionController } from '../modules/dashboard/dashboard-session.controller';
import type { EventsAdminController } from '../modules/events/events-admin.controller';
import type { JobsAdminController } from '../modules/jobs/jobs-admin.controller';
import type { OrganizationCreditsController } from '../modules/organizations/organization-credits.controller';
import type { OrganizationsAdminController } from '../modules/organizations/organizations-admin.controller';
import type { OrganizationPortalSessionsController, PortalSessionsController } from '../modules/portal/portal-sessions.controller';
import type { PlansAdminController } from '../modules/plans/plans-admin.controller';
import type { PublicPlansController } from '../modules/plans/public-plans.controller';
import type { ReservationsController } from '../modules/usage/reservations.controller';
import type { RunClosed, RunList, RunView } from '../../libs/contracts/src/runs.types';
import type { UsageController } from '../modules/usage/usage.controller';
import type { WebhooksController } from '../modules/webhooks/webhooks.controller';
import type { AsyncBatchAccepted, BatchItemResult, IngestReceipt, TrackResult, UsageEnvelope } from '../../libs/contracts/src/tracking.types';

/** What a handler's promise resolves to (a streamed CSV is documented as text/csv, not here). */
type Returned<F> = F extends (...args: never[]) => infer T ? Exclude<Awaited<T>, StreamableFile | void> : never;

// ---- tracking -------------------------------------------------------------------------------------------
export type BatchTrackResult = { results: BatchItemResult[] };
export type NotificationList = Returned<UsageController['notifications']>;
export type Reservation = Returned<ReservationsController['reserve']>;
export type ReservationView = Returned<ReservationsController['get']>;
export type ReservationCommit = Returned<ReservationsController['commit']>;
export type ReservationRelease = Returned<ReservationsController['release']>;
export type ReservationExtension = Returned<ReservationsController['extend']>;
/** A stand-in AI tool's answer (a metered route's response adds `usage`, see `@usage` below). */
export type ToolResult = Returned<StructuringToolsController['diagnose']>;
export type LlmCompletion = Returned<LlmToolsController['complete']>;

// ---- analytics ------------------------------------------------------------------------------------------
export type UsageBreakdown = Returned<AnalyticsController['breakdown']>;
export type UsageTrends = Returned<AnalyticsController['trends']>;
export type UsageForecast = Returned<AnalyticsController['forecast']>;
export type PlanRecommendation = Returned<AnalyticsController['recommendation']>;
export type Invoice = Returned<AnalyticsController['invoice']>;
export type EventLogPage = Returned<AnalyticsController['events']>;
export type ReportList = Returned<AnalyticsController['listReports']>;
export type WebhookDeliveryList = Returned<WebhooksController['deliveries']>;

// ---- organizations and keys -----------------------------------------------------------------------------
export type CreatedOrganization = Returned<OrganizationsAdminController['create']>;
export type OrganizationList = Returned<OrganizationsAdminController['list']>;
export type Organization = Returned<OrganizationsAdminController['get']>;
export type UpdatedOrganization = Returned<OrganizationsAdminController['update']>;
export type PlanChange = Returned<OrganizationsAdminController['changePlan']>;
export type CreditGrant = Returned<OrganizationsAdminController['grant']>;
export type CreditGrantList = Returned<OrganizationsAdminController['grants']>;
/** The organization's own view of its top-ups (`GET /api/organizations/:orgId/credits`). */
export type OrganizationGrants = Returned<OrganizationCreditsController['list']>;
export type Member = Returned<OrganizationsAdminController['addMember']>;
export type MemberList = Returned<OrganizationsAdminController['members']>;
export type MemberRemoval = Returned<OrganizationsAdminController['removeMember']>;
export type ApiKeyList = Returned<ApiKeysAdminController['list']>;
export type ApiKeyRevocation = Returned<ApiKeysAdminController['revoke']>;
export type DashboardSession = Returned<DashboardSessionController['session']>;
export type ApiKeyIdentity = Returned<ApiKeyIdentityController['identity']>;
export type BudgetRemoval = Returned<BudgetsAdminController['remove']>;
export type BudgetUsageList = Returned<BudgetsUsageController['list']>;

// ---- definitions and operations -------------------------------------------------------------------------
export type EventDefinition = Returned<EventsAdminController['get']>;
export type EventDefinitionList = Returned<EventsAdminController['list']>;
export type EventDefinitionHistory = Returned<EventsAdminController['history']>;
export type PlanDefinition = Returned<PlansAdminController['get']>;
export type PlanDefinitionList = Returned<PlansAdminController['list']>;
export type PlanDefinitionHistory = Returned<PlansAdminController['history']>;
export type PublicPlanList = Returned<PublicPlansController['list']>;
export type ConfigSnapshot = Returned<AdminConfigController['config']>;
export type ConfigCommandResult = Returned<AdminConfigController['command']>;
export type CacheStats = Returned<AdminConfigController['cache']>;
export type CacheRefresh = Returned<AdminConfigController['refresh']>;
export type CacheClear = Returned<AdminConfigController['clear']>;
export type JobsOverview = Returned<JobsAdminController['overview']>;
export type AlertList = Returned<JobsAdminController['alerts']>;
export type JobRun = Returned<JobsAdminController['run']>;
export type Health = HealthCheckResult;

export interface OperationResponses {
  HealthController_check: Health;
  EventsAdminController_list: EventDefinitionList;
  EventsAdminController_create: EventDefinition;
  EventsAdminController_get: EventDefinition;
  EventsAdminController_put: EventDefinition;
  EventsAdminController_patch: EventDefinition;
  EventsAdminController_deactivate: EventDefinition;
  EventsAdminController_history: EventDefinitionHistory;
  EventsAdminController_rollback: EventDefinition;
  PlansAdminController_list: PlanDefinitionList;
  PlansAdminController_create: PlanDefinition;
  PlansAdminController_get: PlanDefinition;
  PlansAdminController_put: PlanDefinition;
  PlansAdminController_patch: PlanDefinition;
  PlansAdminController_deactivate: PlanDefinition;
  PlansAdminController_history: PlanDefinitionHistory;
  PlansAdminController_rollback: PlanDefinition;
  PublicPlansController_list: PublicPlanList;
  AdminConfigController_config: ConfigSnapshot;
  AdminConfigController_command: ConfigCommandResult;
  AdminConfigController_cache: CacheStats;
  AdminConfigController_clear: CacheClear;
  AdminConfigController_refresh: CacheRefresh;
  OrganizationsAdminController_create: CreatedOrganization;
  OrganizationsAdminController_list: OrganizationList;
  OrganizationsAdminController_get: Organization;
  OrganizationsAdminController_update: UpdatedOrganization;
  OrganizationsAdminController_changePlan: PlanChange;
  OrganizationsAdminController_grant: CreditGrant;
  OrganizationsAdminController_grants: CreditGrantList;
  OrganizationsAdminController_addMember: Member;
  OrganizationsAdminController_members: MemberList;
  OrganizationsAdminController_removeMember: MemberRemoval;
  UsageController_track: TrackResult;
  'UsageController_track:200': BatchTrackResult;
  'UsageController_track:202': AsyncBatchAccepted;
  UsageController_receipt: IngestReceipt;
  AnalyticsController_events: EventLogPage;
  UsageController_summary: Returned<UsageController['summary']>;
  UsageController_check: Returned<UsageController['check']>;
  UsageController_notifications: NotificationList;
  ReservationsController_reserve: Reservation;
  ReservationsController_get: ReservationView;
  ReservationsController_commit: ReservationCommit;
  ReservationsController_release: ReservationRelease;
  ReservationsController_extend: ReservationExtension;
  DemoController_track: TrackResult;
  'DemoController_track:200': BatchTrackResult;
  AnalyticsController_breakdown: UsageBreakdown;
  AnalyticsController_trends: UsageTrends;
  AnalyticsController_hourly: Returned<AnalyticsController['hourly']>;
  AnalyticsController_apiKeys: Returned<AnalyticsController['apiKeys']>;
  OrganizationCreditsController_list: OrganizationGrants;
  PortalSessionsController_create: Returned<PortalSessionsController['create']>;
  PortalSessionsController_revoke: Returned<PortalSessionsController['revoke']>;
  PortalSessionsController_revokeAll: Returned<PortalSessionsController['revokeAll']>;
  OrganizationPortalSessionsController_revoke: Returned<OrganizationPortalSessionsController['revoke']>;
  OrganizationPortalSessionsController_revokeAll: Returned<OrganizationPortalSessionsController['revokeAll']>;
  AnalyticsController_forecast: UsageForecast;
  AnalyticsController_recommendation: PlanRecommendation;
  AnalyticsController_invoice: Invoice;
  AnalyticsController_listReports: ReportList;
  AnalyticsController_report: Returned<AnalyticsController['report']>;
  JobsAdminController_overview: JobsOverview;
  JobsAdminController_alerts: AlertList;
  JobsAdminController_run: JobRun;
  WebhooksController_deliveries: WebhookDeliveryList;
  ApiKeysAdminController_create: Returned<ApiKeysAdminController['create']>;
  ApiKeysAdminController_list: ApiKeyList;
  ApiKeysAdminController_revoke: ApiKeyRevocation;
  ApiKeysController_list: ApiKeyList;
  ApiKeysController_revoke: ApiKeyRevocation;
  DashboardSessionController_session: DashboardSession;
  ApiKeyIdentityController_identity: ApiKeyIdentity;
  UntrackedBenchController_planning: ToolResult;
  BudgetsAdminController_create: Returned<BudgetsAdminController['get']>;
  BudgetsAdminController_list: Returned<BudgetsAdminController['list']>;
  BudgetsAdminController_get: Returned<BudgetsAdminController['get']>;
  BudgetsAdminController_update: Returned<BudgetsAdminController['get']>;
  BudgetsAdminController_remove: BudgetRemoval;
  BudgetsController_create: Returned<BudgetsAdminController['get']>;
  BudgetsController_list: Returned<BudgetsAdminController['list']>;
  BudgetsController_get: Returned<BudgetsAdminController['get']>;
  BudgetsController_update: Returned<BudgetsAdminController['get']>;
  BudgetsController_remove: BudgetRemoval;
  BudgetsUsageController_list: BudgetUsageList;
  RunsController_create: RunView;
  RunsController_list: RunList;
  RunsController_get: RunView;
  RunsController_close: RunClosed;
  // @TrackUsage routes: what the handler returns; the document adds `usage` (a JSON object body gets it).
  StructuringToolsController_diagnose: ToolResult;
  StructuringToolsController_generateSolution: ToolResult;
  VisualsToolsController_planning: ToolResult;
  VisualsToolsController_sketch: ToolResult;
  SolutioningToolsController_imageAnalysis: ToolResult;
  SolutioningToolsController_aiEnhance: ToolResult;
  SolutioningToolsController_structureSolution: ToolResult;
  SolutioningToolsController_nodeStack: ToolResult;
  SolutioningToolsController_formatting: ToolResult;
  SolutioningToolsController_hyperCanvas: ToolResult;
  PushToolsController_structuringToVisuals: ToolResult;
  PushToolsController_visualsToSolutioning: ToolResult;
  PushToolsController_solutioningToSow: ToolResult;
  PushToolsController_sowToLoe: ToolResult;
  ExportToolsController_pdf: ToolResult;
  LlmToolsController_complete: LlmCompletion;
  /** Not an operation: the `usage` field every `@TrackUsage` route adds to its JSON object response. */
  '@usage': UsageEnvelope;
}
