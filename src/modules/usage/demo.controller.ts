import { Body, Controller, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { DemoTrackUsageDto } from './dto/track-event.dto';
import { TrackingHttpService } from './tracking-http.service';
import { UsageTracker } from './usage-tracker.service';

/** The seed-compatible demo endpoint of the original phase-1 document (admin key). */
@ApiTags('usage')
@Controller('api/demo')
export class DemoController {
  constructor(
    private readonly tracker: UsageTracker,
    private readonly http: TrackingHttpService,
  ) {}

  @Post('track-usage')
  @ApiOperation({ summary: 'Synchronous tracking with the organization in the body: {organizationId, eventType, eventData, userId?}' })
  track(@Body() { organizationId, ...event }: DemoTrackUsageDto, @Req() req: FastifyRequest) {
    return this.tracker.track({ organizationId, ...event, context: this.http.context(req) });
  }
}
