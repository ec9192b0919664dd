import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsString, IsUrl, Length, Matches, Max, Min, ValidateIf } from 'class-validator';
import { IsAmount, IsOptionalNotNull } from '../../../common/validation/validators';

export const ORG_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const SLUG_PATTERN = /^[a-z][a-z0-9_]{1,63}$/;
export const MEMBER_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export class CreateOrganizationDto {
  @ApiProperty({ example: 'acme-corp', description: "The platform's own id (^[A-Za-z0-9_-]{1,64}$)" })
  @IsString()
  @Matches(ORG_ID_PATTERN, { message: 'id must be 1 to 64 letters, digits, _ or -' })
  id: string;

  @ApiProperty({ example: 'Acme Corp' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({ example: 'starter' })
  @IsString()
  @Matches(SLUG_PATTERN, { message: 'plan must be a plan name' })
  plan: string;

  @ApiPropertyOptional({ enum: ['monthly', 'annual'], default: 'monthly' })
  @IsOptionalNotNull()
  @IsIn(['monthly', 'annual'])
  billingCycle?: 'monthly' | 'annual';

  @ApiPropertyOptional({ example: 50, description: 'Max overage cost per period, USD' })
  @IsOptionalNotNull()
  @IsAmount()
  @Min(0)
  @Max(1_000_000_000)
  spendCap?: number;

  @ApiPropertyOptional({ example: 'https://example.com/hooks/credits' })
  @IsOptionalNotNull()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  @Length(1, 2000)
  webhookUrl?: string;
}

export class UpdateOrganizationDto {
  @ApiPropertyOptional({ example: 'Acme Corporation' })
  @IsOptionalNotNull()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({ enum: ['monthly', 'annual'] })
  @IsOptionalNotNull()
  @IsIn(['monthly', 'annual'])
  billingCycle?: 'monthly' | 'annual';

  @ApiPropertyOptional({ example: 100, nullable: true, description: 'null removes the cap' })
  @ValidateIf((_, v) => v !== null && v !== undefined)
  @IsAmount()
  @Min(0)
  @Max(1_000_000_000)
  spendCap?: number | null;

  @ApiPropertyOptional({ nullable: true, description: 'null removes the webhook' })
  @ValidateIf((_, v) => v !== null && v !== undefined)
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  @Length(1, 2000)
  webhookUrl?: string | null;
}

export class ChangePlanDto {
  @ApiProperty({ example: 'professional' })
  @IsString()
  @Matches(SLUG_PATTERN, { message: 'plan must be a plan name' })
  plan: string;

  @ApiPropertyOptional({ enum: ['now', 'next_period'], default: 'now' })
  @IsOptionalNotNull()
  @IsIn(['now', 'next_period'])
  effective?: 'now' | 'next_period';
}

export class GrantCreditsDto {
  @ApiProperty({ example: 500, description: 'Credits, > 0, at most 2 decimals' })
  @IsAmount()
  @Min(0.01)
  @Max(1_000_000_000)
  amount: number;

  @ApiPropertyOptional({ example: '2027-06-30T00:00:00.000Z' })
  @IsOptionalNotNull()
  @IsISO8601({ strict: true })
  expiresAt?: string;

  @ApiPropertyOptional({ example: 'Launch promotion' })
  @IsOptionalNotNull()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class AddMemberDto {
  @ApiProperty({ example: 'user-42' })
  @IsString()
  @Length(1, 128)
  @Matches(/^[^\s]+$/, { message: 'userId must not contain spaces' })
  userId: string;

  @ApiProperty({ enum: MEMBER_ROLES, example: 'member' })
  @IsIn(MEMBER_ROLES)
  role: MemberRole;
}
