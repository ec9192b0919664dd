import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { ApiExtension, ApiHeader, ApiResponse } from '@nestjs/swagger';
import { ApiErrors } from '../../openapi/api-errors.decorator';
import { METERED_EXTENSION } from '../../openapi/openapi-extensions';
import { Scopes } from '../../common/auth/auth.decorators';
import type { FastifyRequest } from 'fastify';
import { TrackUsageInterceptor } from './track-usage.interceptor';
import { TRACK_USAGE } from './track-usage.types';
import type { TrackUsageMetadata, TrackUsageOptions } from './track-usage.types';

export { TRACK_USAGE } from './track-usage.types';
export type { MeteredRequest, TrackUsageMetadata, TrackUsageOptions } from './track-usage.types';

/**
 * Meters a controller method: `@TrackUsage('structuring_diagnose')`. The organization comes from the
 * organization API key; with the admin key, from the `:orgId` route parameter or the `X-Organization-Id`
 * header. `X-User-Id` attributes the event; `Idempotency-Key` makes the charge idempotent.
 */
export function TrackUsage<R = FastifyRequest>(eventType: string, options: TrackUsageOptions<R> = {}): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(TRACK_USAGE, { eventType, ...(options as TrackUsageOptions<unknown>) } as TrackUsageMetadata),
    Scopes('track'),
    UseInterceptors(TrackUsageInterceptor),
    ApiHeader({ name: 'X-Organization-Id', required: false, description: 'With the admin key: the organization to charge' }),
    ApiHeader({ name: 'X-User-Id', required: false, description: 'The member the event is attributed to' }),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'A retry under the same key never runs the work again: it gets the first answer back (Idempotent-Replayed: true), 409 IDEMPOTENCY_IN_PROGRESS with Retry-After while the first is running, or 409 IDEMPOTENCY_REPLAYED with the charge when the first answer was too large to keep (docs/idempotency.md)',
    }),
    ApiResponse({ status: 402, description: 'CREDITS_EXHAUSTED, LIMIT_EXCEEDED or BUDGET_EXCEEDED (a budget of the key or member): the handler did not run' }),
    ApiErrors(409, 422),
    ApiExtension(METERED_EXTENSION, eventType),
  );
}
