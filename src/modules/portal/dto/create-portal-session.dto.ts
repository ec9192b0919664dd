import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { PORTAL_TTL_DEFAULT_MINUTES, PORTAL_TTL_MAX_MINUTES, PORTAL_TTL_MIN_MINUTES } from '../utils/portal-token';

export class CreatePortalSessionDto {
  @ApiPropertyOptional({ default: PORTAL_TTL_DEFAULT_MINUTES, minimum: PORTAL_TTL_MIN_MINUTES, maximum: PORTAL_TTL_MAX_MINUTES, description: 'How long the link works, in minutes' })
  @IsOptional()
  @IsInt()
  @Min(PORTAL_TTL_MIN_MINUTES)
  @Max(PORTAL_TTL_MAX_MINUTES)
  ttlMinutes?: number;
}
