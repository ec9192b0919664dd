import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../../common/auth/auth.decorators';
import { CacheHealthIndicator } from './cache-health.indicator';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly cache: CacheHealthIndicator,
  ) {}

  @Public()
  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness and dependencies: 200 when the database and the cache answer, 503 otherwise' })
  @ApiOkResponse({ description: 'Healthy', schema: { example: { status: 'ok', info: { database: { status: 'up' }, cache: { status: 'up', backend: 'memory' } }, error: {}, details: { database: { status: 'up' }, cache: { status: 'up', backend: 'memory' } } } } })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down (error body with the check details)' })
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database.pingCheck('database', { timeout: 2000 }), () => this.cache.check('cache')]);
  }
}
