import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { IsAmount, IsDay } from '../../../common/validation/validators';

const PERIOD = /^\d{4}-\d{2}$/;

export const BREAKDOWN_GROUPS = ['eventType', 'category', 'user', 'day'] as const;
export const EXPORT_FORMATS = ['json', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export class BreakdownQueryDto {
  @ApiPropertyOptional({ enum: BREAKDOWN_GROUPS, default: 'eventType' })
  @IsOptional()
  @IsIn(BREAKDOWN_GROUPS)
  groupBy?: (typeof BREAKDOWN_GROUPS)[number];

  @ApiPropertyOptional({ example: '2026-11-01', description: 'First day (UTC), inclusive. Default: the current period start' })
  @IsOptional()
  @IsDay()
  from?: string;

  @ApiPropertyOptional({ example: '2026-11-30', description: 'Last day (UTC), inclusive. Default: today' })
  @IsOptional()
  @IsDay()
  to?: string;
}

export class TrendsQueryDto {
  @ApiPropertyOptional({ default: 6, minimum: 1, maximum: 36, description: 'Months to show, the current one included' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(36)
  months?: number;
}

export class RecommendationQueryDto {
  @ApiPropertyOptional({ example: 3000, description: 'Credits to price the plans for, instead of the forecast (what-if)' })
  @IsOptional()
  @Type(() => Number)
  @IsAmount()
  @Min(0)
  @Max(1_000_000_000)
  projectedCredits?: number;
}

export class InvoiceQueryDto {
  @ApiPropertyOptional({ example: '2026-11', description: 'YYYY-MM. Default: the current period' })
  @IsOptional()
  @Matches(PERIOD, { message: 'period must be YYYY-MM' })
  period?: string;
}

export class FormatQueryDto {
  @ApiPropertyOptional({ enum: EXPORT_FORMATS, description: 'csv, or send Accept: text/csv' })
  @IsOptional()
  @IsIn(EXPORT_FORMATS)
  format?: ExportFormat;
}

export class EventLogQueryDto extends FormatQueryDto {
  @ApiPropertyOptional({ default: 100, minimum: 1, maximum: 1_000_000, description: 'Page size for JSON (at most 1000, default 100); for CSV, at most this many rows (default: all)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  cursor?: string;

  @ApiPropertyOptional({ example: 'structuring_diagnose' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  eventType?: string;

  @ApiPropertyOptional({ example: 'user-42' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  userId?: string;

  @ApiPropertyOptional({ example: '2026-11-01T00:00:00Z', description: 'occurredAt >= from' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  from?: string;

  @ApiPropertyOptional({ example: '2026-12-01T00:00:00Z', description: 'occurredAt < to' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  to?: string;

  @ApiPropertyOptional({
    enum: ['recorded', 'refused'],
    default: 'recorded',
    description: 'recorded: the charged events; refused: asynchronous events that did not fit when they were written (kept, never charged; JSON only)',
  })
  @IsOptional()
  @IsIn(['recorded', 'refused'])
  status?: 'recorded' | 'refused';
}

export class HourlyQueryDto {
  @ApiPropertyOptional({ example: '2026-11-15', description: 'The UTC day to show hour by hour. Default: today' })
  @IsOptional()
  @IsDay()
  day?: string;
}
