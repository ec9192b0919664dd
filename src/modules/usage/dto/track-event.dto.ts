import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsObject, IsOptional, IsString, Length, Matches } from 'class-validator';

export class TrackEventDto {
  @ApiProperty({ example: 'structuring_diagnose' })
  @IsString()
  @Length(1, 64)
  eventType: string;

  @ApiPropertyOptional({ example: { complexity: 2.0, echo: true }, description: 'Priced by the event definition; at most 16 KiB of JSON. `complexity` (number), feature flags (`name: true` or `features: [names]`), and `units` {name: whole quantity >= 0} for a definition that prices units (e.g. {"units": {"inputTokens": 1200, "outputTokens": 300}}); an unknown unit or a negative or fractional quantity is 400' })
  @IsOptional()
  @IsObject()
  eventData?: Record<string, unknown>;

  @ApiPropertyOptional({ example: 'user-42' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  userId?: string;

  @ApiPropertyOptional({ example: '2026-11-15T12:00:00.000Z', description: 'Defaults to now; at most 5 minutes ahead' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  occurredAt?: string;

  @ApiPropertyOptional({ example: 'req-7f3a', description: 'Or the Idempotency-Key header; unique per organization' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  @Matches(/^[\x21-\x7e]+$/, { message: 'idempotencyKey must be printable ASCII without spaces' })
  idempotencyKey?: string;
}

/** The batch body as the document states it: `events` and nothing else (what TrackingHttpService enforces). */
export const TRACK_BATCH_SCHEMA = {
  type: 'object',
  required: ['events'],
  additionalProperties: false,
  properties: { events: { type: 'array', minItems: 1, maxItems: 1000, items: { $ref: '#/components/schemas/TrackEventDto' } } },
};

export class TrackBatchDto {
  @ApiProperty({ type: [TrackEventDto], maxItems: 1000 })
  events: TrackEventDto[];
}

export class DemoTrackUsageDto extends TrackEventDto {
  @ApiProperty({ example: 'acme-corp' })
  @IsString()
  @Length(1, 64)
  organizationId: string;
}
