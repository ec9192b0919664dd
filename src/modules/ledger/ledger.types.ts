import type { EventDefinitionRecord } from '../events/event-registry.service';
import type { Period } from '../../common/time/period';
import type { PriceBreakdown } from '../../../libs/contracts/src/tracking.types';

// The ledger's own vocabulary: what a debit is and what it answers, a hold and its settlement, and the rows
// a transaction writes. The ledger's repositories, its row builder and its callers share these; nothing here
// comes from the modules that call the ledger (usage prices and validates, the ledger only records).

/** Where a charged event came from, as the ledger keeps it on its row (and a hold on its reservation). */
export interface LedgerContext {
  endpoint?: string;
  ip?: string;
  userAgent?: string;
  apiKeyId?: string;
  runId?: string;
}

/**
 * One priced event the ledger records: what LedgerEntries needs to build its row and its answer. The usage
 * module's prepared event is one as it is (a structural type, so nothing is copied on the hot path).
 */
export interface DebitItem {
  input: { userId?: string; context?: LedgerContext };
  definition: Pick<EventDefinitionRecord, 'key' | 'version'> & { config: Pick<EventDefinitionRecord['config'], 'limitKey' | 'countsToward' | 'category'> };
  /** What the ledger charges, in micro-credits. */
  micros: number;
  /** The price as shown, in hundredths. */
  credits: number;
  breakdown: PriceBreakdown;
  occurredAt: Date;
  period: Period;
  periodStart: string;
  /** The idempotency key the row records. */
  key?: string;
}


/**
 * One debit. Only what the event is: the period's plan, allowance, overage rate, limits and the spend cap
 * are decided inside consume_credits from the rows it locks, never from values read before the transaction.
 */
export interface ConsumeParams {
  organizationId: string;
  periodStart: string;
  amount: string;
  /** The count limits the event counts toward, comma-joined (limitKeyOf), or null: the debit counts each once. */
  limitKey: string | null;
  now: Date;
  /** Whose budgets apply: the organization API key and the member the event is charged to. */
  apiKeyId?: string | null;
  userId?: string | null;
  /** The day the charge is made (UTC, YYYY-MM-DD, from `now`): the window of daily budgets, whatever occurredAt says. */
  day?: string | null;
  /**
   * The agent run the debit is charged to (X-Run-Id): it counts against that run and every ancestor, under
   * their row locks in the same debit. Sent to the SQL functions as the item field `run_id`.
   */
  runId?: string | null;
}

/** A budget's charge by one accepted debit: its window, its limit, its use before and after. */
export interface BudgetTake {
  budgetId: string;
  window: string;
  scope: 'apiKey' | 'user';
  subject: string;
  period: 'month' | 'day';
  limit: number | string;
  before: number | string;
  after: number | string;
  credits: number | string;
}

/** The debit's run is not the organization's, is closed (or an ancestor is), or it would pass a budget on its path. */
export type RunRefusalStatus = 'RUN_NOT_FOUND' | 'RUN_CLOSED' | 'RUN_BUDGET_EXCEEDED';

/** What consume_credits_many says of a run refusal: the run, its path (root first), the run that refused and its figures. */
export interface RunRefusal {
  runId: string;
  path?: string[];
  limitingRunId?: string;
  budget?: number | string | null;
  used?: number | string;
}

/** The budget a refused debit would have exceeded. */
export interface BudgetRefusal {
  budgetId: string;
  scope: 'apiKey' | 'user';
  subject: string;
  period: 'month' | 'day';
  window: string;
  credits: number | string;
  used: number | string;
}

export interface ReserveParams {
  organizationId: string;
  id: string;
  debit: ConsumeParams;
  key: string | null;
  /** The key's hash in the shared namespace (a reservation's never equals a tracked event's). */
  keyHash: string | null;
  requestHash: string | null;
  occurredAt: Date;
  eventType: string;
  userId: string | null;
  eventData: Record<string, unknown>;
  context: unknown;
  expiresAt: Date;
}

/** A hold to commit at its reserved price: the event that takes it over, and the key it completes. */
export interface HoldSettlement {
  organizationId: string;
  reservationId: string;
  eventId: string;
  credits: string;
  key: string | null;
  /** What the key keeps for a replay of the request (the answer and the charge), set with the commit. */
  response: unknown;
}

/** A LIMIT_EXCEEDED refusal: the first limit of the event's countsToward that its plan has no room left in. */
export interface LimitRefusal {
  limit: string;
  max: number;
  used: number;
}

export interface ConsumeResult {
  /** PERIOD_CREDITS_BOUND / PERIOD_COST_BOUND: the debit would take the period past a bound of common/money/bounds.ts. */
  status: 'OK' | 'CREDITS_EXHAUSTED' | 'LIMIT_EXCEEDED' | 'PERIOD_CLOSED' | 'BUDGET_EXCEEDED' | 'PERIOD_CREDITS_BOUND' | 'PERIOD_COST_BOUND' | RunRefusalStatus;
  from_allowance: string;
  from_grants: string;
  overage: string;
  /** USD of that overage at the rate in force when it was consumed (unrounded numeric string). */
  overage_cost: string;
  grant_takes: Array<{ grantId: string; credits: number | string }>;
  remaining: string;
  consumed_before: string;
  consumed_after: string;
  allowance: string;
  limit_used: number;
  /** The period's plan the debit was decided under (empty for PERIOD_CLOSED). */
  plan_name: string | null;
  /** BUDGET_EXCEEDED: the budget it would have exceeded; RUN_*: the run refusal; LIMIT_EXCEEDED: the count limit that refused. */
  budget?: BudgetRefusal | RunRefusal | LimitRefusal | null;
  /** OK: what it charged to each budget of its key and user. */
  budget_takes?: BudgetTake[];
}

/** consume_credits' answer for the hold, or KEY_TAKEN (nothing debited); the reservation id when OK. */
export type ReserveResult = Omit<ConsumeResult, 'status'> & { status: ConsumeResult['status'] | 'KEY_TAKEN'; reservation_id: string | null };

export interface NotificationRow {
  organization_id: string;
  id: string;
  period_start: string;
  type: string;
  threshold: number;
  used: string;
  limit: string;
  payload: Record<string, unknown>;
  /** Part of the once-only key: '' for the organization's notices, budget and window for a budget's. */
  dedupe_key?: string;
}

export interface LedgerEventRow {
  organization_id: string;
  occurred_at: string;
  id: string;
  period_start: string;
  recorded_at: string;
  event_type: string;
  category: string;
  definition_version: number;
  user_id: string | null;
  credits: string;
  from_allowance: string;
  from_grants: string;
  overage: string;
  overage_cost: string;
  limit_key: string | null;
  breakdown: unknown;
  idempotency_key: string | null;
  endpoint: string | null;
  ip: string | null;
  user_agent: string | null;
  /** The organization API key that made the request (null: the admin key). */
  api_key_id: string | null;
  /** The agent run it was charged to (null: none). */
  run_id: string | null;
}

/** An idempotency key is one organization's: the same key of two organizations is two keys. */
export interface OrganizationKey {
  organizationId: string;
  key: string;
}

/** What one transaction writes for the events it accepted (built by LedgerEntries). */
export interface EntryRows {
  events: LedgerEventRow[];
  takes: Array<{ organization_id: string; grant_id: string; event_id: string; period_start: string; credits: string }>;
  notifications: NotificationRow[];
}

/** An asynchronous event that did not fit when it was written (docs/api.md): kept, never charged. */
export interface RefusedEventRow {
  organization_id: string;
  id: string;
  occurred_at: string;
  recorded_at: string;
  event_type: string;
  user_id: string | null;
  credits: string | null;
  event_data: Record<string, unknown>;
  error: string;
  message: string;
  source: 'async' | 'expired_hold';
  idempotency_key: string | null;
  /** The period the event belongs to (for its notice; not a column). */
  period_start: string;
}

/** A hold's amounts after an extension: what it held plus what the extension's debit took. */
export interface HoldExtension {
  credits: string;
  from_allowance: string;
  from_grants: string;
  overage: string;
  overage_cost: string;
  grant_takes: Array<{ grantId: string; credits: string }>;
  budget_takes: NonNullable<ConsumeResult['budget_takes']>;
  consumed_after: string;
  remaining_after: string;
  event_data: Record<string, unknown>;
  expires_at: Date;
}

/** A hold's row as the reservations table keeps it (numeric columns as exact strings). */
export interface ReservationRow {
  organization_id: string;
  id: string;
  status: 'pending' | 'committed' | 'released' | 'expired';
  period_start: string;
  occurred_at: Date;
  event_type: string;
  user_id: string | null;
  event_data: Record<string, unknown>;
  credits: string;
  from_allowance: string;
  from_grants: string;
  overage: string;
  overage_cost: string;
  plan_name: string | null;
  grant_takes: unknown;
  consumed_before: string;
  consumed_after: string;
  allowance: string;
  remaining_after: string;
  limit_key: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  event_id: string | null;
  context: LedgerContext | null;
  expires_at: Date;
  api_key_id: string | null;
  budget_takes: ConsumeResult['budget_takes'];
  /** The agent run the hold is charged to: its refund gives the credits back to that run and its ancestors. */
  run_id: string | null;
  /** A streamed hold's eventData for what it had delivered at its last extension: charged if it expires unsettled. */
  delivered_data: Record<string, unknown> | null;
}
