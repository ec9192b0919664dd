import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

export class RunJobDto {
  @ApiPropertyOptional({ example: '2026-11', description: 'rollup-refresh, ledger-reconciliation: this period only' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}$/, { message: 'period must be YYYY-MM' })
  period?: string;

  @ApiPropertyOptional({ example: '2026-11-15', description: 'rollup-refresh: this day only' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'day must be a date YYYY-MM-DD' })
  day?: string;

  @ApiPropertyOptional({ example: 'acme', description: 'rollup-refresh: this organization only' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'organizationId must be an organization id' })
  organizationId?: string;
}

export const ALERT_STATUSES = ['open', 'resolved', 'all'] as const;

export class ListAlertsQueryDto {
  @ApiPropertyOptional({ enum: ALERT_STATUSES, default: 'open' })
  @IsOptional()
  @IsIn(ALERT_STATUSES)
  status?: (typeof ALERT_STATUSES)[number];

  @ApiPropertyOptional({ default: 100, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}
