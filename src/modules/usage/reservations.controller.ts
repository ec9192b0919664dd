import { Body, Controller, Get, Headers, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Scopes } from '../../common/auth/auth.decorators';
import { CommitReservationDto, CreateReservationDto, ExtendReservationDto } from './dto/reservation.dto';
import { ReservationsService } from './reservations.service';
import { firstAnswerOf, parseIdempotencyHeader } from './utils/track-input';
import { TrackingHttpService } from '../tracking/tracking-http.service';
import { runIdHeader } from '../tracking/utils/request-context';
import { ApiErrors, ApiTrackingErrors } from '../../openapi/api-errors.decorator';

@ApiTags('usage: reservations')
@Controller('api/organizations/:orgId/usage/reservations')
export class ReservationsController {
  constructor(
    private readonly reservations: ReservationsService,
    private readonly http: TrackingHttpService,
  ) {}

  @Post()
  @ApiTrackingErrors()
  @Scopes('track')
  @ApiOperation({ summary: 'Reserve the priced credits now (they count against the balance at once); commit or release later' })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiHeader({ name: 'X-Run-Id', required: false, description: 'The agent run to charge: the hold counts against it and every ancestor until it is settled or released' })
  reserve(@Param('orgId') orgId: string, @Body() { ttlSeconds, ...event }: CreateReservationDto, @Headers('idempotency-key') key: unknown, @Req() req: FastifyRequest) {
    return this.reservations.reserve({ organizationId: orgId, ...event, idempotencyKey: event.idempotencyKey ?? parseIdempotencyHeader(key), context: this.http.context(req) }, ttlSeconds);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One reservation: held credits, status and, once committed, the event' })
  @Scopes('read')
  get(@Param('orgId') orgId: string, @Param('id') id: string) {
    return this.reservations.get(orgId, id);
  }

  @Post(':id/commit')
  @ApiTrackingErrors()
  @Scopes('track')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record the event, re-priced with the final eventData, and keep the route\'s answer for a replay; 409 when released, expired or committed (committed: details carry the original charge)' })
  @ApiHeader({ name: 'X-Run-Id', required: false, description: "The agent run the hold was made under (the hold is charged to its run; another run's id is 400)" })
  commit(@Param('orgId') orgId: string, @Param('id') id: string, @Body() body: CommitReservationDto, @Headers('x-run-id') runId: string | string[] | undefined) {
    return this.reservations.commit(orgId, id, body.eventData, firstAnswerOf(body.response), runIdHeader(runId));
  }

  @Post(':id/extend')
  @ApiTrackingErrors()
  @Scopes('track')
  @HttpCode(200)
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'For tracing: an extension is idempotent by its target (quantities already covered debit nothing)' })
  @ApiOperation({ summary: 'Grow a pending hold to cover this eventData and push its expiry out (a streamed answer holds in steps); 402 when the extra credits do not fit, 409 when settled or expired' })
  extend(@Param('orgId') orgId: string, @Param('id') id: string, @Body() body: ExtendReservationDto) {
    return this.reservations.extend(orgId, id, body.eventData, body.ttlSeconds, body.delivered);
  }

  @Post(':id/release')
  @ApiErrors(409)
  @Scopes('track')
  @HttpCode(200)
  @ApiOperation({ summary: 'Give the reserved credits back; 409 when already settled' })
  release(@Param('orgId') orgId: string, @Param('id') id: string) {
    return this.reservations.release(orgId, id);
  }
}
