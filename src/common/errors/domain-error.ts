import { ErrorCode } from './error-codes';

/**
 * The one error type services throw. It carries a stable code and structured details; it knows nothing
 * of HTTP, so jobs and queues can handle it too.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** Field path -> messages, the details of VALIDATION_FAILED. */
export type FieldErrors = Record<string, string[]>;

export function validationFailed(fields: FieldErrors, message = 'Request validation failed'): DomainError {
  return new DomainError('VALIDATION_FAILED', message, { fields });
}

export function addFieldError(fields: FieldErrors, path: string, message: string): void {
  // Own keys only: a field named "valueOf" or "constructor" must not find Object.prototype's member.
  if (!Object.hasOwn(fields, path)) fields[path] = [];
  fields[path].push(message);
}
