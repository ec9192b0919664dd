import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Length, Matches, Max, Min } from 'class-validator';
import { IsAmount } from '../../../common/validation/validators';
import type { BudgetPeriod, BudgetScope } from '../../../../libs/contracts/src/budgets.types';

export const BUDGET_SCOPES = ['apiKey', 'user'] as const;
export const BUDGET_PERIODS = ['month', 'day'] as const;
/** What numeric(18,2) holds with room to spare. */
export const MAX_BUDGET_CREDITS = 1_000_000_000_000;

export class CreateBudgetDto {
  @ApiProperty({ enum: BUDGET_SCOPES, example: 'apiKey', description: "apiKey: a key of the organization (its id); user: a member's userId" })
  @IsIn(BUDGET_SCOPES)
  scope: BudgetScope;

  @ApiProperty({ example: '3f0c2a4e-8a51-4b7e-9a64-0f1b6c2d9e11', description: 'The API key id (scope apiKey) or the userId (scope user), 1 to 128 characters' })
  @IsString()
  @Length(1, 128)
  @Matches(/^[^\p{Cc}]+$/u, { message: 'subject must not contain control characters' })
  subject: string;

  @ApiProperty({ example: 200, minimum: 0, maximum: MAX_BUDGET_CREDITS, description: 'The limit per window, in credits (>= 0, at most 2 decimals)' })
  @IsAmount()
  @Min(0)
  @Max(MAX_BUDGET_CREDITS)
  credits: number;

  @ApiProperty({ enum: BUDGET_PERIODS, example: 'month', description: 'The window: day, the UTC day the charge is made (the service clock, never occurredAt); month, the billing period the event is charged to' })
  @IsIn(BUDGET_PERIODS)
  period: BudgetPeriod;
}

export class UpdateBudgetDto {
  @ApiProperty({ example: 300, minimum: 0, maximum: MAX_BUDGET_CREDITS, description: 'The new limit per window, in credits; what was used stays' })
  @IsAmount()
  @Min(0)
  @Max(MAX_BUDGET_CREDITS)
  credits: number;
}
