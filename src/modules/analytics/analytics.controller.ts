import { Controller, Get, Headers, Param, Query } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';

// JSON (its schema comes from the handler's return type) or CSV.
const JSON_OR_CSV = { content: { 'application/json': {}, 'text/csv': { schema: { type: 'string' } } } } as const;
import { Scopes } from '../../common/auth/auth.decorators';
import { BreakdownQueryDto, EventLogQueryDto, FormatQueryDto, InvoiceQueryDto, RecommendationQueryDto, TrendsQueryDto } from './dto/analytics-query.dto';
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
  @ApiOperation({ summary: 'Credits, events and overage by event type, category, user or day over a date range (UTC days, inclusive)' })
  breakdown(@Param('orgId') orgId: string, @Query() query: BreakdownQueryDto) {
    return this.analytics.breakdown(orgId, query);
  }

  @Get('trends')
  @Scopes('read')
  @ApiOperation({ summary: 'Monthly totals of the last N months (the current one included) with month-over-month change' })
  trends(@Param('orgId') orgId: string, @Query() query: TrendsQueryDto) {
    return this.analytics.trends(orgId, query.months);
  }

  @Get('forecast')
  @Scopes('read')
  @ApiOperation({ summary: 'Projected end-of-period consumption from the trailing 7-day daily rate, and when the allowance runs out' })
  forecast(@Param('orgId') orgId: string) {
    return this.forecasts.forecast(orgId);
  }

  @Get('recommendation')
  @Scopes('read')
  @ApiOperation({ summary: 'The cheapest plan for the projected consumption (or for projectedCredits), with the reason and the saving' })
  recommendation(@Param('orgId') orgId: string, @Query() query: RecommendationQueryDto) {
    return this.forecasts.recommendation(orgId, query.projectedCredits);
  }

  @Get('invoice')
  @Scopes('read')
  @ApiOperation({ summary: 'Invoice of a period: a preview while it is open, the frozen invoice once closed' })
  invoice(@Param('orgId') orgId: string, @Query() query: InvoiceQueryDto) {
    return this.invoices.invoice(orgId, query.period);
  }

  @Get('events')
  @Scopes('read')
  @ApiOperation({ summary: 'The event log, newest first: cursor pages as JSON, or the whole filtered log streamed as CSV' })
  @ApiOkResponse({ description: 'A JSON page, or CSV', ...JSON_OR_CSV })
  @ApiHeader({ name: 'Accept', required: false, description: 'text/csv for a CSV export (or format=csv)' })
  events(@Param('orgId') orgId: string, @Query() query: EventLogQueryDto, @Headers('accept') accept: string | undefined) {
    return this.eventLog.list(orgId, query, accept);
  }

  @Get('reports')
  @Scopes('read')
  @ApiOperation({ summary: 'The monthly reports written when periods closed, newest first' })
  listReports(@Param('orgId') orgId: string) {
    return this.reports.list(orgId);
  }

  @Get('reports/:period')
  @Scopes('read')
  @ApiOperation({ summary: 'One monthly report (period YYYY-MM) as JSON, or CSV with Accept: text/csv or format=csv' })
  @ApiOkResponse({ description: 'The report as JSON, or CSV', ...JSON_OR_CSV })
  report(@Param('orgId') orgId: string, @Param('period') period: string, @Query() query: FormatQueryDto, @Headers('accept') accept: string | undefined) {
    return this.reports.get(orgId, period, query.format, accept);
  }
}
