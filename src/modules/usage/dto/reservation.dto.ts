import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsObject, IsOptional, Max, Min } from 'class-validator';
import { TrackEventDto } from './track-event.dto';

export const DEFAULT_RESERVATION_TTL_SECONDS = 600;

export class CreateReservationDto extends TrackEventDto {
  @ApiPropertyOptional({ example: 600, default: DEFAULT_RESERVATION_TTL_SECONDS, description: 'Released automatically after this many seconds unless committed; at most the period-close grace window (PERIOD_CLOSE_GRACE_MINUTES x 60, 3600 by default; longer is 400)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(86_400)
  ttlSeconds?: number;
}

export class CommitReservationDto {
  @ApiPropertyOptional({ example: { complexity: 2.4, echo: true }, description: 'The final eventData: the event is re-priced with it (e.g. the real `units` {inputTokens, outputTokens} of an LLM call); without it the hold is charged as it was priced (a hold without units holds the definition\'s maxUnits)' })
  @IsOptional()
  @IsObject()
  eventData?: Record<string, unknown>;

  @ApiPropertyOptional({
    example: { status: 200, body: { summary: 'hello' } },
    description:
      "What the metered route answered (the client package sends it): `status`, and `body`, the handler's result before `usage` is added, or `unstorable` ('too_large', 'not_json') instead of a body. Kept with the reservation's idempotency key for a replay (docs/idempotency.md); a body whose JSON passes IDEMPOTENT_RESPONSE_MAX_BYTES is kept as 'too_large'.",
  })
  @IsOptional()
  @IsObject()
  response?: Record<string, unknown>;
}
