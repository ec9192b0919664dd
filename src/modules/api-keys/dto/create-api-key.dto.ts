import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsIn, IsString, Length, Matches } from 'class-validator';
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
}
