import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, IsUUID, Length, Matches, Max, Min, registerDecorator } from 'class-validator';
import { MAX_RUN_BUDGET_CREDITS } from '../../../common/money/bounds';
import { IsOptionalNotNull } from '../../../common/validation/validators';
import { isCreditsDecimal } from '../utils/run-credits';

/** A run lives at most 30 days: an agent's work, not a subscription. */
export const MAX_RUN_TTL_SECONDS = 30 * 24 * 3600;
/** How deep a tree of runs may nest (a sub-agent's sub-agent …): each debit locks the whole path. */
export const MAX_RUN_DEPTH = 16;

/** Credits as the ledger counts them: a number or a decimal string, >= 0, at most 6 decimals, no exponent form. */
function IsCreditsDecimal(): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isCreditsDecimal',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: `${String(propertyName)} must be a number or a decimal string >= 0 with at most 6 decimals` },
      validator: { validate: (value: unknown) => isCreditsDecimal(value) },
    });
  };
}

export class CreateRunDto {
  @ApiProperty({
    required: false,
    oneOf: [{ type: 'number' }, { type: 'string' }],
    example: '25',
    description: `The run's budget in credits (a number or a decimal string, at most 6 decimals, 0 to ${MAX_RUN_BUDGET_CREDITS}); absent: no budget of its own (its ancestors' still apply). What the run and its descendants spend or hold counts against it.`,
  })
  @IsOptionalNotNull()
  @IsCreditsDecimal()
  budgetCredits?: number | string;

  @ApiProperty({ required: false, format: 'uuid', description: 'The parent run (of this organization, open): every call of the new run also counts against it and its ancestors' })
  @IsOptionalNotNull()
  @IsUUID()
  parentRunId?: string;

  @ApiProperty({ required: false, example: 'research agent', description: 'A name to show, 1 to 200 characters' })
  @IsOptionalNotNull()
  @IsString()
  @Length(1, 200)
  @Matches(/^[^\p{Cc}]+$/u, { message: 'label must not contain control characters' })
  label?: string;

  @ApiProperty({ required: false, example: 3600, minimum: 1, maximum: MAX_RUN_TTL_SECONDS, description: 'Seconds until the run closes by itself (it then takes no call); absent: open until closed' })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(MAX_RUN_TTL_SECONDS)
  ttlSeconds?: number;
}
