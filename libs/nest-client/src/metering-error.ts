import type { ErrorBody, ErrorCode } from '../../contracts/src/error-codes';

/**
 * An answer of the metering service that was not 2xx: its status and its body exactly as the service sent
 * them (`{statusCode, error, message, details}`), so the host can hand both on to its own client.
 */
export class MeteringError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.message);
    this.name = 'MeteringError';
  }

  get code(): ErrorCode {
    return this.body.error;
  }
}

/**
 * The service could not be reached, or did not answer within timeoutMs, on every attempt. Not an answer of
 * the service: the client makes it (503 METERING_UNAVAILABLE), and only this one is retried.
 */
export class MeteringUnavailableError extends MeteringError {
  constructor(cause: string) {
    super(503, { statusCode: 503, error: 'METERING_UNAVAILABLE', message: 'The metering service could not be reached', details: { cause } });
    this.name = 'MeteringUnavailableError';
  }
}

export function isMeteringError(error: unknown, code?: ErrorCode): error is MeteringError {
  return error instanceof MeteringError && (code === undefined || error.body.error === code);
}
