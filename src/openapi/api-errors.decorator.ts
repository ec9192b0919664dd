import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';

/** What each error status means on this API; the body is always the shared ErrorBody. */
export const ERROR_DESCRIPTIONS: Record<string, string> = {
  '400': 'VALIDATION_FAILED: a field is invalid (details name each one); nothing was written',
  '401': 'UNAUTHORIZED: no API key, or one that does not exist or was revoked',
  '402': 'CREDITS_EXHAUSTED or LIMIT_EXCEEDED: the event does not fit the plan; BUDGET_EXCEEDED or RUN_BUDGET_EXCEEDED: a budget (of the key, the member, or the agent run and its ancestors) would be passed; nothing was charged',
  '403': "FORBIDDEN: the key lacks a scope or belongs to another organization; USER_NOT_MEMBER",
  '404': 'NOT_FOUND or a specific *_NOT_FOUND code (organization, event type, plan, reservation, job, key, version, run: RUN_NOT_FOUND)',
  '409': 'CONFLICT, ALREADY_EXISTS, *_INACTIVE, IDEMPOTENCY_CONFLICT, IDEMPOTENCY_IN_PROGRESS (Retry-After), IDEMPOTENCY_REPLAYED, RESERVATION_SETTLED, RUN_CLOSED or JOB_RUNNING',
  '413': 'PAYLOAD_TOO_LARGE: the body (or eventData) is over its limit',
  '415': 'UNSUPPORTED_MEDIA_TYPE: the body is not JSON',
  '422': 'PERIOD_CLOSED: the event belongs to a closed period',
  '429': 'RATE_LIMITED: too many requests from this key or address (Retry-After)',
  '500': 'INTERNAL: an unexpected error (logged with the request id)',
  '503': 'OVERLOADED (Retry-After) or SERVICE_UNAVAILABLE',
};

/**
 * The error statuses an operation answers beyond the ones every operation of its kind does (the document
 * builder adds 400, 401, 403, 404, 413, 415, 429, 500 and 503 where they apply); each gets the shared
 * ErrorBody. The contract check fails any test that meets a status its operation does not list.
 */
export const ApiErrors = (...statuses: Array<402 | 404 | 409 | 422 | 503>) =>
  applyDecorators(...statuses.map((status) => ApiResponse({ status, description: ERROR_DESCRIPTIONS[String(status)] })));

/** What a tracked event may meet: it does not fit (402), a key or definition conflict (409), a closed period (422). */
export const ApiTrackingErrors = () => ApiErrors(402, 409, 422);
