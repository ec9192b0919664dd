import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsObject, IsOptional, Max, Min } from 'class-validator';
import { ApiProperty } from '@nestjs/swagger';
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

export class ExtendReservationDto {
  @ApiProperty({
    example: { model: 'stand-in-1', units: { inputTokens: 12, outputTokens: 512 } },
    description:
      'The eventData the hold must now cover, priced like a commit prices it (a stream holds its input and the output it may soon send). The difference is debited like a hold (402 when it does not fit: the hold stays as it was); quantities already covered debit nothing, so a retry or a replay never extends twice.',
  })
  @IsObject()
  eventData!: Record<string, unknown>;

  @ApiPropertyOptional({
    example: { model: 'stand-in-1', units: { inputTokens: 12, outputTokens: 256 } },
    description:
      "The eventData of what the stream has delivered so far (input included). Kept with the hold: if the hold expires unsettled (the host died mid-stream), it is charged this, with stopReason 'hold_expired', instead of being given back. It must not cost more than eventData (400 otherwise). A later extension without it keeps the last one.",
  })
  @IsOptional()
  @IsObject()
  delivered?: Record<string, unknown>;

  @ApiPropertyOptional({ example: 600, description: 'The hold then runs until at least this many seconds from now (default 600; at most the period-close grace window, longer is 400). An expiry already later stays.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(86_400)
  ttlSeconds?: number;
}
