import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsObject, IsOptional } from 'class-validator';

export const CONFIG_ACTIONS = {
  event: ['create', 'update', 'delete'],
  plan: ['create', 'update', 'delete'],
  cache: ['refresh', 'refresh-all', 'clear', 'stats'],
} as const;

/** The configuration command of the original seed-compatible API. */
export class AdminConfigCommandDto {
  @ApiProperty({ enum: ['event', 'plan', 'cache'], example: 'event' })
  @IsIn(['event', 'plan', 'cache'])
  type: 'event' | 'plan' | 'cache';

  @ApiProperty({ enum: ['create', 'update', 'delete', 'refresh', 'refresh-all', 'clear', 'stats'], example: 'update' })
  @IsIn(['create', 'update', 'delete', 'refresh', 'refresh-all', 'clear', 'stats'])
  action: string;

  @ApiPropertyOptional({
    description: 'Events: {eventType, config}; plans: {name, config}; cache refresh: {type?: "event"|"plan", key?}',
    example: { eventType: 'structuring_diagnose', config: { baseCredits: 12 } },
  })
  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}
