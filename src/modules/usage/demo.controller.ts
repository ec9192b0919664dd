import { Body, Controller, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiHeader, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { validationFailed } from '../../common/errors/domain-error';
import { isPlainObject } from '../../common/validation/json-validators';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DemoTrackUsageDto, TRACK_BATCH_SCHEMA } from './dto/track-event.dto';
import { TrackingHttpService } from '../tracking/tracking-http.service';
import { ApiTrackingErrors } from '../../openapi/api-errors.decorator';

/** The seed-compatible demo endpoint of the original seed-compatible API (admin key). */
@ApiTags('usage')
@Controller('api/demo')
export class DemoController {
  constructor(private readonly http: TrackingHttpService) {}

  /**
   * Exactly the path of POST /api/organizations/:orgId/usage/events (the same validation, the 16 KiB
   * eventData limit, the Idempotency-Key header), with the organization taken out of the body first.
   */
  @Post('track-usage')
  @ApiTrackingErrors()
  @ApiOperation({ summary: 'Synchronous tracking with the organization in the body: {organizationId, eventType, eventData, userId?}' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'A replay returns the original result with duplicate: true' })
  @ApiExtraModels(DemoTrackUsageDto)
  @ApiBody({
    schema: {
      oneOf: [
        { $ref: getSchemaPath(DemoTrackUsageDto) },
        { type: 'object', required: ['organizationId', 'events'], additionalProperties: false, properties: { organizationId: { type: 'string', example: 'acme-corp' }, events: TRACK_BATCH_SCHEMA.properties.events } },
      ],
    },
    examples: {
      single: { value: { organizationId: 'acme-corp', eventType: 'structuring_diagnose', eventData: { complexity: 2 } } },
      batch: { value: { organizationId: 'acme-corp', events: [{ eventType: 'visuals_planning' }] } },
    },
  })
  async track(@Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const { organizationId, event } = splitDemoBody(body);
    const outcome = await this.http.trackBody(organizationId, event, req);
    reply.status(outcome.statusCode);
    return outcome.body;
  }
}

/** `{organizationId, ...event}`: the organization, and the event exactly as the organization route takes it. */
function splitDemoBody(body: unknown): { organizationId: string; event: Record<string, unknown> } {
  if (!isPlainObject(body)) throw validationFailed({ body: ['must be a JSON object'] });
  const { organizationId, ...event } = body;
  if (typeof organizationId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(organizationId)) {
    throw validationFailed({ organizationId: ['organizationId must be an organization id (1 to 64 letters, digits, _ or -)'] });
  }
  return { organizationId, event };
}
