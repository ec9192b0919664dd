import { CreateCatalogTables1764300000000 } from './1764300000000-CreateCatalogTables';
import { CreateLedger1764300001000 } from './1764300001000-CreateLedger';
import { CreateApiKeys1764300002000 } from './1764300002000-CreateApiKeys';
import { CreateAnalyticsAndJobs1764300003000 } from './1764300003000-CreateAnalyticsAndJobs';
import { CreateReservationsAndWebhooks1764300004000 } from './1764300004000-CreateReservationsAndWebhooks';
import { ConsumeCreditsMany1764300005000 } from './1764300005000-ConsumeCreditsMany';
import { PeriodPlansAndOverageCost1764300006000 } from './1764300006000-PeriodPlansAndOverageCost';
import { ReserveInOneStatement1764300007000 } from './1764300007000-ReserveInOneStatement';
import { Budgets1764300008000 } from './1764300008000-Budgets';
import { CreatePortalSessions1764300010000 } from './1764300010000-CreatePortalSessions';
import { UsageEventsApiKey1764300012000 } from './1764300012000-UsageEventsApiKey';
import { ConsumeCreditsAcrossOrganizations1764300013000 } from './1764300013000-ConsumeCreditsAcrossOrganizations';
import { HoldsInGroups1764300014000 } from './1764300014000-HoldsInGroups';
import { DailyRollupsCovering1764300017000 } from './1764300017000-DailyRollupsCovering';
import { AmountBounds1764300030000 } from './1764300030000-AmountBounds';
import { MicroCredits1764300031000 } from './1764300031000-MicroCredits';
import { PeriodPlanByCommitOrder1764300040000 } from './1764300040000-PeriodPlanByCommitOrder';
import { ApiKeyMember1764300041000 } from './1764300041000-ApiKeyMember';
import { MonthlyBudgetWindowByChargeTime1764300042000 } from './1764300042000-MonthlyBudgetWindowByChargeTime';
import { RevokePortalSessions1764300050000 } from './1764300050000-RevokePortalSessions';
import { CreateIngestQueue1764300060000 } from './1764300060000-CreateIngestQueue';
import { AgentRuns1764300080000 } from './1764300080000-AgentRuns';
import { IngestDeliveries1764300090000 } from './1764300090000-IngestDeliveries';
import { LimitCountsAsRows1764300110000 } from './1764300110000-LimitCountsAsRows';
import { ReservationDeliveredData1764300130000 } from './1764300130000-ReservationDeliveredData';
import { IngestLeases1764300140000 } from './1764300140000-IngestLeases';

/** Every migration, in order. Listed as classes so the app, the CLI and ESM jest load them alike. */
export const MIGRATIONS = [CreateCatalogTables1764300000000, CreateLedger1764300001000, CreateApiKeys1764300002000, CreateAnalyticsAndJobs1764300003000, CreateReservationsAndWebhooks1764300004000, ConsumeCreditsMany1764300005000, PeriodPlansAndOverageCost1764300006000, ReserveInOneStatement1764300007000, Budgets1764300008000, CreatePortalSessions1764300010000, UsageEventsApiKey1764300012000, ConsumeCreditsAcrossOrganizations1764300013000, HoldsInGroups1764300014000, DailyRollupsCovering1764300017000, AmountBounds1764300030000, MicroCredits1764300031000, PeriodPlanByCommitOrder1764300040000, ApiKeyMember1764300041000, MonthlyBudgetWindowByChargeTime1764300042000, RevokePortalSessions1764300050000, CreateIngestQueue1764300060000, AgentRuns1764300080000, IngestDeliveries1764300090000, LimitCountsAsRows1764300110000, ReservationDeliveredData1764300130000, IngestLeases1764300140000];
