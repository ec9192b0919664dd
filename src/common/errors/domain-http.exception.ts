import { HttpException } from '@nestjs/common';
import { DomainError } from './domain-error';
import { ERROR_STATUS } from './error-codes';

/**
 * A DomainError on its way out of code that runs inside another application (the @TrackUsage interceptor
 * embedded in a host): the host has no AllExceptionsFilter of ours, and Nest's own filter answers 500 for
 * anything that is not an HttpException. As an HttpException whose response is the error body of docs/api.md, it
 * reaches the host's client as 402 `{statusCode, error: 'CREDITS_EXHAUSTED', message, details}`, on Express
 * and Fastify alike; this service's filter unwraps it back to the DomainError (same body).
 */
export class DomainHttpException extends HttpException {
  constructor(readonly domain: DomainError) {
    const statusCode = ERROR_STATUS[domain.code];
    super({ statusCode, error: domain.code, message: domain.message, ...(domain.details ? { details: domain.details } : {}) }, statusCode, { cause: domain });
  }
}

/** The error as it should leave metering code in a host: a DomainError becomes a DomainHttpException. */
export function toHttpError(error: unknown): unknown {
  return error instanceof DomainError ? new DomainHttpException(error) : error;
}
