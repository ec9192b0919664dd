import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Scopes } from '../../common/auth/auth.decorators';
import { ApiErrors } from '../../openapi/api-errors.decorator';
import { parseIdempotencyHeader } from '../usage/utils/track-input';
import { CreateRunDto } from './dto/create-run.dto';
import { ListRunsQueryDto } from './dto/list-runs.dto';
import { RunsService } from './runs.service';

/**
 * Agent runs of an organization: its keys with `track` create and close them (the agent that spends), with
 * `read` show them; the admin key may do all. Another organization's run is 404 RUN_NOT_FOUND.
 */
@ApiTags('runs')
@Controller('api/organizations/:orgId/runs')
export class RunsController {
  constructor(private readonly runs: RunsService) {}

  @Post()
  @Scopes('track')
  @ApiErrors(404, 409, 422)
  @ApiOperation({
    summary: 'Create an agent run {budgetCredits?, parentRunId?, label?, ttlSeconds?}: calls with X-Run-Id are charged to it and count against it and every ancestor',
    description: '404 RUN_NOT_FOUND: no such parent; 409 RUN_CLOSED: the parent is closed or expired, IDEMPOTENCY_CONFLICT; 422 AMOUNT_OUT_OF_BOUNDS: budgetCredits past 10^10.',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'A retry with the same key and body answers the run it created (a different body: 409 IDEMPOTENCY_CONFLICT)' })
  create(@Param('orgId') orgId: string, @Body() dto: CreateRunDto, @Headers('idempotency-key') key: unknown) {
    return this.runs.create(orgId, dto, parseIdempotencyHeader(key));
  }

  @Get()
  @Scopes('read')
  @ApiOperation({ summary: "The organization's top-level runs (or, with parentRunId, one run's children), newest first: each with its subtree's spend and holds, its status and how many child runs it has" })
  @ApiErrors(404)
  list(@Param('orgId') orgId: string, @Query() query: ListRunsQueryDto) {
    return this.runs.list(orgId, query);
  }

  @Get(':id')
  @Scopes('read')
  @ApiOperation({ summary: "A run: its spend (its own and its descendants'), what it holds, its status, its own events by type with units and credits, and its child runs" })
  @ApiErrors(404)
  get(@Param('orgId') orgId: string, @Param('id') id: string) {
    return this.runs.get(orgId, id);
  }

  @Post(':id/close')
  @Scopes('track')
  @HttpCode(200)
  @ApiErrors(404)
  @ApiOperation({ summary: 'Close a run and its descendants: their pending holds are released and their ids take no more calls (409 RUN_CLOSED); repeating it is harmless' })
  close(@Param('orgId') orgId: string, @Param('id') id: string) {
    return this.runs.close(orgId, id);
  }
}
