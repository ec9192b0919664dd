// Response shapes of the tracking API (docs/api.md), shared by the service, the dashboard and the client
// package (@credit-metering/nest-client): one source, so a change of shape is a compile error everywhere.
// Pure types only: this folder has no runtime dependency.
import type { ErrorBody } from './error-codes';
import type { StoredAnswer } from './idempotent-replay';

export interface PriceBreakdown {
  baseCredits: number;
  /** As given, or derived (rounded to 4 decimals for display only). */
  complexity: number;
  /** 'none' when the definition has no complexity multiplier. */
  complexitySource: 'given' | 'derived' | 'none';
  /** The clamped factor actually applied (1 when there is no complexity multiplier). */
  factor: number;
  /** Only the enabled features, name -> credits. */
  featureBonuses: { [feature: string]: number };
  /**
   * Priced quantities (only when the definition declares units): every declared unit the event named,
   * with its quantity, rate and exact credits (quantity × creditsPerUnit, unrounded).
   */
  units?: { [unit: string]: { quantity: number; creditsPerUnit: number; credits: number } };
  /** Σ of units[*].credits, unrounded; total = roundHalfUp2(baseCredits × factor + Σ featureBonuses + unitCredits). */
  unitCredits?: number;
  total: number;
  version: number;
  /** A streamed answer (docs/streaming.md): why it ended; it was charged for what it delivered (hold_expired: its host died, charged what it had delivered at its last extension). */
  stopReason?: 'complete' | 'credit_limit' | 'client_disconnect' | 'error' | 'hold_expired';
}

export interface UsageWarning {
  /** usage_threshold: the organization's allowance; budget_threshold: a budget of the key or member. */
  type: 'usage_threshold' | 'budget_threshold';
  threshold: number;
  used: number;
  limit: number;
  /** budget_threshold only: which budget, and its window. */
  budgetId?: string;
  scope?: 'apiKey' | 'user';
  subject?: string;
  period?: 'month' | 'day';
  window?: string;
}

export interface TrackResult {
  success: true;
  eventId: string;
  eventType: string;
  creditsConsumed: number;
  remainingCredits: number;
  overageCredits: number;
  breakdown: PriceBreakdown;
  warnings: UsageWarning[];
  period: { start: string; end: string };
  duplicate: boolean;
}

export type BatchItemResult =
  | { index: number; status: 'accepted' | 'duplicate'; result: TrackResult }
  | { index: number; status: 'rejected'; error: ErrorBody };

export interface CheckResult {
  eventType: string;
  credits: number;
  breakdown: PriceBreakdown;
  fits: boolean;
  reason: 'OK' | 'CREDITS_EXHAUSTED' | 'LIMIT_EXCEEDED' | 'BUDGET_EXCEEDED' | 'RUN_BUDGET_EXCEEDED';
  remainingCredits: number;
  wouldUseOverage: number;
}

export interface ReservationResult {
  reservationId: string;
  eventType: string;
  credits: number;
  expiresAt: string;
  remainingCredits: number;
  status: string;
  duplicate: boolean;
  /**
   * A duplicate of a committed hold (a key used before): what its request answered and was charged, kept
   * with the key (docs/idempotency.md); null when nothing was kept. Absent on a fresh hold.
   */
  answer?: StoredAnswer | null;
}

/** `POST …/usage/events` with `{events: […]}`: one result per event, in order. */
export interface BatchResult {
  results: BatchItemResult[];
}

/** `POST …/usage/reservations/:id/release`. */
/**
 * `POST …/usage/reservations/:id/extend`: the hold now covers the quantities it was asked for (`credits` in
 * all, `addedCredits` by this call, 0 when it already did) and runs until `expiresAt`.
 */
export interface ExtensionResult {
  reservationId: string;
  eventType: string;
  credits: number;
  addedCredits: number;
  expiresAt: string;
  remainingCredits: number;
  status: 'pending';
}

export interface ReleaseResult {
  reservationId: string;
  status: 'released';
  releasedCredits: number;
}

/**
 * The `usage` field a `@TrackUsage` route adds to its JSON object response (the X-Credits-Consumed and
 * X-Credits-Remaining headers carry the same figures). `deferred` is the client package's only: the service
 * could not be reached (failMode 'open'), the event is journaled and charged when the service is back.
 */
export interface UsageEnvelope {
  eventId: string | null;
  eventType: string;
  creditsConsumed: number | null;
  remainingCredits: number | null;
  overageCredits: number;
  warnings: unknown[];
  mode: 'sync' | 'async' | 'deferred';
  duplicate?: boolean;
}

/** `GET /api/organizations/:orgId/usage`: the current period at a glance. */
export interface UsageSummary {
  organizationId: string;
  plan: { name: string; displayName: string; monthlyCredits: number; overageRate: number | null };
  pendingPlan: { plan: string; effectiveFrom: string } | null;
  period: { start: string; end: string };
  allowance: number;
  used: number;
  allowanceUsed: number;
  topUpsUsed: number;
  topUpsRemaining: number;
  remaining: number;
  overage: { credits: number; cost: number; spendCap: number | null };
  percentUsed: number;
  events: number;
  limits: { [limitKey: string]: { used: number; limit: number | null } };
  /**
   * The allowance's thresholds crossed this period. `plan`: the plan whose allowance `limit` is (a plan
   * change mid-period gives the new allowance its own crossings); null for notices written before it was kept.
   */
  warnings: Array<{ type: string; threshold: number; used: number; limit: number; at: string; plan: string | null }>;
}

/** `POST …/usage/events` with `Prefer: respond-async` (202): the batch is stored; its receipt says when it is applied. */
export interface AsyncBatchAccepted {
  receiptId: string;
  /** Events stored for the drainers (the others were refused at once: see the receipt's refusals). */
  accepted: number;
}

/** One refused event of an asynchronous batch: its place in the batch, its key and why. */
export interface ReceiptRefusal {
  index: number;
  idempotencyKey: string | null;
  eventType: string | null;
  error: string;
  message: string;
}

/** `GET …/usage/receipts/:receiptId`: whether an asynchronous batch has been written, and how it fared. */
export interface IngestReceipt {
  receiptId: string;
  /** `applied` once every event of the batch is accounted for (accepted, duplicate or refused). */
  status: 'pending' | 'applied';
  total: number;
  /** Charged now. */
  accepted: number;
  /** Replays of events already recorded (same idempotency key): not charged again. */
  duplicates: number;
  refused: number;
  refusals: ReceiptRefusal[];
  createdAt: string;
  appliedAt: string | null;
}
