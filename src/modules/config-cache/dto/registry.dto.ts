import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Min } from 'class-validator';

const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);
const toNumber = ({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : value);

export class ListEventsQueryDto {
  @ApiPropertyOptional({ example: 'ai_analysis' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z0-9_]{1,63}$/)
  category?: string;

  @ApiPropertyOptional({ description: 'Include deactivated definitions' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  includeInactive?: boolean;
}

export class ListPlansQueryDto {
  @ApiPropertyOptional({ example: 10, description: 'Lowest monthly price (USD)' })
  @IsOptional()
  @Transform(toNumber)
  @IsNumber()
  @Min(0)
  minPrice?: number;

  @ApiPropertyOptional({ example: 50, description: 'Highest monthly price (USD)' })
  @IsOptional()
  @Transform(toNumber)
  @IsNumber()
  @Min(0)
  maxPrice?: number;

  @ApiPropertyOptional({ description: 'Include deactivated plans (admin listing only)' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  includeInactive?: boolean;
}

export class RollbackDto {
  @ApiProperty({ example: 1, description: 'The version whose content becomes the new current version' })
  @IsInt()
  @Min(1)
  version: number;
}

export class CacheRefreshDto {
  @ApiPropertyOptional({ enum: ['events', 'plans', 'all'], default: 'all' })
  @IsOptional()
  @IsIn(['events', 'plans', 'all'])
  registry?: 'events' | 'plans' | 'all';

  @ApiPropertyOptional({ description: 'One definition key to reload (with registry events or plans)', example: 'structuring_diagnose' })
  @IsOptional()
  @IsString()
  key?: string;
}

export const EVENT_DEFINITION_EXAMPLE = {
  eventType: 'structuring_diagnose',
  displayName: 'Structuring: Diagnose',
  description: 'AI diagnosis of a problem statement',
  category: 'ai_analysis',
  baseCredits: 10,
  endpoint: '/api/structuring/diagnose',
  multipliers: { complexity: { min: 1, max: 2.5 }, features: { echo: 5, traceback: 3 } },
  limitKey: 'aiCallsPerMonth',
  metadata: {},
  isActive: true,
};

/** An event priced by quantities: units {name: creditsPerUnit}, maxUnits held by a reservation without quantities. */
export const UNIT_EVENT_DEFINITION_EXAMPLE = {
  eventType: 'llm_completion',
  displayName: 'LLM: Completion',
  description: 'A language-model completion, priced by its input and output tokens',
  category: 'ai_llm',
  baseCredits: 0.5,
  endpoint: '/api/llm/complete',
  multipliers: { complexity: null, features: {} },
  limitKey: 'aiCallsPerMonth',
  metadata: {},
  units: { inputTokens: 0.002, outputTokens: 0.008 },
  maxUnits: { inputTokens: 8000, outputTokens: 2000 },
  isActive: true,
};

export const PLAN_DEFINITION_EXAMPLE = {
  name: 'starter',
  displayName: 'Starter Plan',
  description: 'For small teams getting started',
  monthlyCredits: 1000,
  pricing: { monthly: 19, annual: 190 },
  limits: { aiCallsPerMonth: 500, pdfExportsPerMonth: 50, sessionLimit: 50, teamMembersLimit: 5, storageLimit: 1000 },
  features: ['Standard AI', 'Email support'],
  overageRate: 0.02,
  warningThresholds: [0.8, 0.9, 1],
  isActive: true,
  sortOrder: 2,
};
