import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PortalReadable, Scopes } from '../../common/auth/auth.decorators';
import { DirectRoute } from '../../common/http/direct-routes';
import { TRACK_BATCH_SCHEMA, TrackEventDto } from './dto/track-event.dto';
import { UsageSummaryService } from './usage-summary.service';
import { UsageTracker } from './usage-tracker.service';
import { TrackingHttpService } from '../tracking/tracking-http.service';
import { ApiTrackingErrors } from '../../openapi/api-errors.decorator';

@ApiTags('usage')
@Controller('api/organizations/:orgId')
export class UsageController {
  constructor(
    private readonly http: TrackingHttpService,
    private readonly summaries: UsageSummaryService,
    private readonly tracker: UsageTracker,
  ) {}

  @Post('usage/events')
  @DirectRoute()
  @ApiTrackingErrors()
  @Scopes('track')
  @ApiOperation({
    summary: 'Track one event (201, the tracking result) or a batch {events: [...]} of up to 1,000 (200, one result per event)',
    description:
      'A batch sent with `Prefer: respond-async` is stored durably and answered 202 `{receiptId, accepted}`; the drainers write it to the ledger and ' +
      '`GET …/usage/receipts/{receiptId}` says when it is applied. 503 INGEST_QUEUE_FULL (Retry-After) when the ingest queue is at a bound.',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'A replay returns the original result with duplicate: true (an asynchronous batch: the same receipt, nothing stored again)' })
  @ApiHeader({ name: 'X-Run-Id', required: false, description: 'The agent run to charge (every event of a batch): it counts against the run and every ancestor; 402 RUN_BUDGET_EXCEEDED past a budget, 404 RUN_NOT_FOUND, 409 RUN_CLOSED' })
  @ApiHeader({ name: 'Prefer', required: false, description: '`respond-async`: a batch is answered 202 once stored, and applied asynchronously' })
  @ApiResponse({ status: 201, description: 'One event tracked: the tracking result' })
  @ApiResponse({ status: 202, description: 'Asynchronous batch stored: {receiptId, accepted}' })
  @ApiBody({
    // Told apart by a validator: a single event requires eventType, a batch requires events and nothing else.
    schema: { oneOf: [{ $ref: '#/components/schemas/TrackEventDto' }, TRACK_BATCH_SCHEMA] },
    examples: {
      single: { value: { eventType: 'structuring_diagnose', eventData: { complexity: 2.0, echo: true }, userId: 'user-42' } },
      batch: { value: { events: [{ eventType: 'visuals_planning' }, { eventType: 'export_pdf', idempotencyKey: 'pdf-1' }] } },
    },
  })
  async track(@Param('orgId') orgId: string, @Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const outcome = await this.http.trackBody(orgId, body, req, { allowAsync: true });
    reply.status(outcome.statusCode).headers(outcome.headers ?? {});
    return outcome.body;
  }

  @Get('usage/receipts/:receiptId')
  @Scopes('read')
  @ApiOperation({ summary: 'An asynchronous batch: pending or applied, events accepted, duplicates and refused (with each refusal\'s index and reason)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND: no such receipt for this organization' })
  receipt(@Param('orgId') orgId: string, @Param('receiptId') receiptId: string) {
    return this.http.receipt(orgId, receiptId);
  }

  @Get('usage')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'The current period: plan, allowance, used, remaining, top-ups, overage, count limits, warnings' })
  summary(@Param('orgId') orgId: string) {
    return this.summaries.summary(orgId);
  }

  @Post('usage/check')
  @ApiTrackingErrors()
  @Scopes('track')
  @HttpCode(200)
  @ApiOperation({ summary: 'Price an event and say whether it fits now, without recording it' })
  check(@Param('orgId') orgId: string, @Body() body: TrackEventDto, @Req() req: FastifyRequest) {
    // The request's key, so the quote runs the key's budgets too.
    return this.tracker.check({ organizationId: orgId, ...body, context: this.http.context(req) });
  }

  @Get('notifications')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'Threshold crossings, once per period and threshold, newest first' })
  notifications(@Param('orgId') orgId: string) {
    return this.summaries.notifications(orgId);
  }
}
