import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { API_KEY_SCOPES } from '../../../common/auth/auth.decorators';
import type { ApiKeyScope } from '../../../common/auth/auth.decorators';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'backend production', description: 'What the key is for (1 to 200 characters)' })
  @IsString()
  @Length(1, 200)
  @Matches(/^[^\p{Cc}]+$/u, { message: 'name must not contain control characters' })
  name: string;

  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true, example: ['track', 'read'], description: 'track: record usage; read: usage, analytics; manage: the organization\'s keys' })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(API_KEY_SCOPES.length)
  @ArrayUnique()
  @IsIn(API_KEY_SCOPES, { each: true })
  scopes: ApiKeyScope[];

  @ApiPropertyOptional({ example: 'u-1', description: 'The member the key belongs to (a userId, 1 to 128 characters): the key may not change a budget on that member, as on itself' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  @Matches(/^[^\p{Cc}]+$/u, { message: 'userId must not contain control characters' })
  userId?: string;
}
