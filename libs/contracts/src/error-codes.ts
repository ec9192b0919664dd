/**
 * Stable error codes of the API (SPEC section 9) and the HTTP status each maps to.
 * Services throw DomainError with one of these; only the global filter knows about HTTP.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  CREDITS_EXHAUSTED: 402,
  LIMIT_EXCEEDED: 402,
  BUDGET_EXCEEDED: 402,
  FORBIDDEN: 403,
  USER_NOT_MEMBER: 403,
  NOT_FOUND: 404,
  EVENT_TYPE_NOT_FOUND: 404,
  PLAN_NOT_FOUND: 404,
  ORGANIZATION_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  RESERVATION_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  API_KEY_NOT_FOUND: 404,
  BUDGET_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  ALREADY_EXISTS: 409,
  EVENT_TYPE_INACTIVE: 409,
  PLAN_INACTIVE: 409,
  IDEMPOTENCY_CONFLICT: 409,
  RESERVATION_SETTLED: 409,
  JOB_RUNNING: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PERIOD_CLOSED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  OVERLOADED: 503,
  /** An asynchronous event was refused: the ingest queue is at a configured bound (Retry-After). */
  INGEST_QUEUE_FULL: 503,
  /**
   * Answered by the client package (@credit-metering/nest-client) in the host application, never by the
   * service: the service could not be reached or timed out and the decorator's failMode is 'closed'.
   */
  METERING_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The error body of every non-2xx answer (SPEC section 9). */
export interface ErrorBody {
  statusCode: number;
  error: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}
