import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DomainError } from './domain-error';
import { DomainHttpException } from './domain-http.exception';
import { ERROR_STATUS, ErrorCode } from './error-codes';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: Record<string, unknown>;
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * Maps every error to the error body of docs/api.md. Anything unexpected becomes INTERNAL with a generic message:
 * no stack trace, SQL or driver text ever reaches a client (they go to the log instead).
 */
export function toErrorBody(raised: unknown): { body: ErrorBody; unexpected: boolean } {
  const exception = raised instanceof DomainHttpException ? raised.domain : raised;
  if (exception instanceof DomainError) {
    const statusCode = ERROR_STATUS[exception.code];
    return {
      body: { statusCode, error: exception.code, message: exception.message, ...(exception.details ? { details: exception.details } : {}) },
      unexpected: false,
    };
  }
  if (exception instanceof HttpException) {
    const statusCode = exception.getStatus();
    const response = exception.getResponse();
    const rawMessage = typeof response === 'string' ? response : (response as { message?: unknown }).message;
    const message = Array.isArray(rawMessage) ? rawMessage.join('; ') : typeof rawMessage === 'string' ? rawMessage : exception.message;
    const error = STATUS_CODES[statusCode] ?? (statusCode >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED');
    if (statusCode >= 500 && statusCode !== 503) {
      return { body: { statusCode: 500, error: 'INTERNAL', message: 'Internal server error' }, unexpected: true };
    }
    const details = statusCode === 503 && typeof response === 'object' ? { status: response } : undefined;
    return { body: { statusCode, error, message, ...(details ? { details } : {}) }, unexpected: false };
  }
  // Fastify's own errors (body too large, bad JSON, wrong content type) carry a statusCode and a FST_ code.
  const fastifyError = exception as { statusCode?: number; code?: string; message?: string };
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode < 500 && typeof fastifyError.code === 'string' && fastifyError.code.startsWith('FST_')) {
    const statusCode = fastifyError.statusCode;
    const error = STATUS_CODES[statusCode] ?? 'VALIDATION_FAILED';
    const message =
      statusCode === 413
        ? 'Request body is too large'
        : fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
          ? 'Request body is not valid JSON'
          : statusCode === 415
            ? 'Unsupported content type: send application/json'
            : 'Bad request';
    return { body: { statusCode, error, message }, unexpected: false };
  }
  return { body: { statusCode: 500, error: 'INTERNAL', message: 'Internal server error' }, unexpected: true };
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const { body, unexpected } = toErrorBody(exception);
    if (unexpected) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    // 429 RATE_LIMITED and 503 INGEST_QUEUE_FULL say when to come back (details.retryAfterSeconds).
    if ((body.statusCode === 429 || body.statusCode === 503) && !reply.hasHeader('retry-after')) {
      const retry = body.details?.retryAfterSeconds;
      if (typeof retry === 'number') reply.header('retry-after', String(retry));
    }
    void reply.status(body.statusCode).header('content-type', 'application/json; charset=utf-8').send(body);
  }
}
