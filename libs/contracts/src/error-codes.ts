/**
 * Stable error codes of the API and the HTTP status each maps to.
 * Services throw DomainError with one of these; only the global filter knows about HTTP.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  CREDITS_EXHAUSTED: 402,
  LIMIT_EXCEEDED: 402,
  BUDGET_EXCEEDED: 402,
  /** The call's agent run (X-Run-Id), or an ancestor of it, has not enough budget left: details carry the run's path. */
  RUN_BUDGET_EXCEEDED: 402,
  FORBIDDEN: 403,
  USER_NOT_MEMBER: 403,
  /** An organization key changing a budget that limits itself or the member it belongs to (an admin or another key may). */
  BUDGET_APPLIES_TO_CALLER: 403,
  NOT_FOUND: 404,
  EVENT_TYPE_NOT_FOUND: 404,
  PLAN_NOT_FOUND: 404,
  ORGANIZATION_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  RESERVATION_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  API_KEY_NOT_FOUND: 404,
  PORTAL_SESSION_NOT_FOUND: 404,
  BUDGET_NOT_FOUND: 404,
  /** No such agent run in this organization (another organization's run is not found either). */
  RUN_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  ALREADY_EXISTS: 409,
  EVENT_TYPE_INACTIVE: 409,
  PLAN_INACTIVE: 409,
  IDEMPOTENCY_CONFLICT: 409,
  /** A metered request under this Idempotency-Key is still running (Retry-After): it is not run twice. */
  IDEMPOTENCY_IN_PROGRESS: 409,
  /** The request under this Idempotency-Key completed and was charged; its answer was not kept (details: the charge). */
  IDEMPOTENCY_REPLAYED: 409,
  RESERVATION_SETTLED: 409,
  /** The agent run (or an ancestor) was closed, or passed its ttl: its id takes no more calls. */
  RUN_CLOSED: 409,
  JOB_RUNNING: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PERIOD_CLOSED: 422,
  /** An amount (an event's price, a period's credits or overage money) would pass a documented bound. */
  AMOUNT_OUT_OF_BOUNDS: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  OVERLOADED: 503,
  /** The ingest queue is at one of its bounds (messages, bytes, age): retry after the Retry-After seconds. */
  INGEST_QUEUE_FULL: 503,
  /**
   * Answered by the client package (@credit-metering/nest-client) in the host application, never by the
   * service: the service could not be reached or timed out and the decorator's failMode is 'closed'.
   */
  METERING_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The error body of every non-2xx answer. */
export interface ErrorBody {
  statusCode: number;
  error: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}
