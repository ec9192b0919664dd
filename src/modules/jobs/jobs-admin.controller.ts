import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ListAlertsQueryDto, RunJobDto } from './dto/jobs.dto';
import { JobsAdminService } from './jobs-admin.service';
import { ApiErrors } from '../../openapi/api-errors.decorator';

@ApiTags('admin: jobs')
@Controller('api/admin/jobs')
export class JobsAdminController {
  constructor(private readonly jobs: JobsAdminService) {}

  @Get()
  @ApiOperation({ summary: 'Jobs with their schedules and recent runs, and the open reconciliation alerts' })
  overview() {
    return this.jobs.overview();
  }

  @Get('alerts')
  @ApiOperation({ summary: 'Reconciliation alerts (discrepancies the ledger reconciliation found), newest first' })
  alerts(@Query() query: ListAlertsQueryDto) {
    return this.jobs.alertList(query.status, query.limit);
  }

  @Post(':name/run')
  @ApiErrors(409)
  @HttpCode(200)
  @ApiOperation({ summary: 'Run a job now and wait for it: the recorded run (409 JOB_RUNNING when it is already running)' })
  run(@Param('name') name: string, @Body() body: RunJobDto) {
    return this.jobs.run(name, body ?? {});
  }
}
