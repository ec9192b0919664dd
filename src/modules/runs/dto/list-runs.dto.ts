import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsUUID, Max, Min } from 'class-validator';
import { IsOptionalNotNull } from '../../../common/validation/validators';

export const MAX_RUNS_PAGE = 200;

/** `GET …/runs`: the top-level runs (or one run's children), newest first, a page at a time. */
export class ListRunsQueryDto {
  @ApiProperty({ required: false, format: 'uuid', description: "List this run's children instead of the top-level runs" })
  @IsOptionalNotNull()
  @IsUUID()
  parentRunId?: string;

  @ApiProperty({ required: false, enum: ['open', 'closed'], description: 'Only open runs, or only closed ones (closed, or past their ttl)' })
  @IsOptionalNotNull()
  @IsIn(['open', 'closed'])
  status?: 'open' | 'closed';

  @ApiProperty({ required: false, minimum: 1, maximum: MAX_RUNS_PAGE, default: 50 })
  @IsOptionalNotNull()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_RUNS_PAGE)
  limit?: number;

  @ApiProperty({ required: false, format: 'uuid', description: 'The `nextCursor` of the previous page: the runs created before that one' })
  @IsOptionalNotNull()
  @IsUUID()
  before?: string;
}
