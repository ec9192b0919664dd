import { Controller, Get, Headers, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiForbiddenResponse, ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { PortalReadable, Scopes } from '../../common/auth/auth.decorators';
import { BreakdownQueryDto, EventLogQueryDto, FormatQueryDto, HourlyQueryDto, InvoiceQueryDto, RecommendationQueryDto, TrendsQueryDto } from './dto/analytics-query.dto';

// JSON (its schema comes from the handler's return type) or CSV.
const JSON_OR_CSV = { content: { 'application/json': {}, 'text/csv': { schema: { type: 'string' } } } } as const;
import { EventLogService } from './event-log.service';
import { ForecastService } from './forecast.service';
import { InvoiceService } from './invoice.service';
import { ReportsService } from './reports.service';
import { UsageAnalyticsService } from './usage-analytics.service';

@ApiTags('usage analytics')
@Controller('api/organizations/:orgId/usage')
export class AnalyticsController {
  constructor(
    private readonly analytics: UsageAnalyticsService,
    private readonly forecasts: ForecastService,
    private readonly invoices: InvoiceService,
    private readonly eventLog: EventLogService,
    private readonly reports: ReportsService,
  ) {}

  @Get('breakdown')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'Credits, events and overage by event type, category, user or day over a date range (UTC days, inclusive)' })
  breakdown(@Param('orgId') orgId: string, @Query() query: BreakdownQueryDto) {
    return this.analytics.breakdown(orgId, query);
  }

  @Get('api-keys')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'Which organization API key spent what in a period (YYYY-MM, the current one by default); the admin key\'s events as unattributed' })
  apiKeys(@Param('orgId') orgId: string, @Query() query: InvoiceQueryDto) {
    return this.analytics.byApiKey(orgId, query.period);
  }

  @Get('hourly')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'One UTC day (today by default) hour by hour: credits, events and overage, the 24 hours in order' })
  @ApiOkResponse({ description: 'The 24 hours of the day, zeros included; later hours marked not yet elapsed' })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED: day is not a calendar date' })
  @ApiUnauthorizedResponse({ description: 'UNAUTHORIZED: no key, an unknown, revoked or expired one, or a portal link of another route' })
  @ApiForbiddenResponse({ description: 'FORBIDDEN: the key lacks the read scope' })
  @ApiNotFoundResponse({ description: 'ORGANIZATION_NOT_FOUND: unknown, or another organization than the key\'s' })
  hourly(@Param('orgId') orgId: string, @Query() query: HourlyQueryDto) {
    return this.analytics.hourly(orgId, query.day);
  }

  @Get('trends')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'Monthly totals of the last N months (the current one included) with month-over-month change' })
  trends(@Param('orgId') orgId: string, @Query() query: TrendsQueryDto) {
    return this.analytics.trends(orgId, query.months);
  }

  @Get('forecast')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'Projected end-of-period consumption from the trailing 7-day daily rate, and when the allowance runs out' })
  forecast(@Param('orgId') orgId: string) {
    return this.forecasts.forecast(orgId);
  }

  @Get('recommendation')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'The cheapest plan for the projected consumption (or for projectedCredits), with the reason and the saving' })
  recommendation(@Param('orgId') orgId: string, @Query() query: RecommendationQueryDto) {
    return this.forecasts.recommendation(orgId, query.projectedCredits);
  }

  @Get('invoice')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'Invoice of a period: a preview while it is open, the frozen invoice once closed' })
  invoice(@Param('orgId') orgId: string, @Query() query: InvoiceQueryDto) {
    return this.invoices.invoice(orgId, query.period);
  }

  @Get('events')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'The event log, newest first: cursor pages as JSON, or the whole filtered log streamed as CSV' })
  @ApiOkResponse({ description: 'A JSON page, or CSV', ...JSON_OR_CSV })
  @ApiHeader({ name: 'Accept', required: false, description: 'text/csv for a CSV export (or format=csv)' })
  events(@Param('orgId') orgId: string, @Query() query: EventLogQueryDto, @Headers('accept') accept: string | undefined) {
    return this.eventLog.list(orgId, query, accept);
  }

  @Get('reports')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'The monthly reports written when periods closed, newest first' })
  listReports(@Param('orgId') orgId: string) {
    return this.reports.list(orgId);
  }

  @Get('reports/:period')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'One monthly report (period YYYY-MM) as JSON, or CSV with Accept: text/csv or format=csv' })
  @ApiOkResponse({ description: 'The report as JSON, or CSV', ...JSON_OR_CSV })
  report(@Param('orgId') orgId: string, @Param('period') period: string, @Query() query: FormatQueryDto, @Headers('accept') accept: string | undefined) {
    return this.reports.get(orgId, period, query.format, accept);
  }
}
