import { Body, Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Actor } from '../../common/auth/current-principal.decorator';
import { CacheRefreshDto } from '../config-cache/dto/registry.dto';
import { AdminConfigService } from './admin-config.service';
import { AdminConfigCommandDto } from './dto/admin-config-command.dto';
import { ApiErrors } from '../../openapi/api-errors.decorator';

@ApiTags('admin: configuration')
@Controller('api/admin')
export class AdminConfigController {
  constructor(private readonly service: AdminConfigService) {}

  @Get('config')
  @ApiOperation({ summary: 'Every event and plan definition, keyed, with cache statistics' })
  config() {
    return this.service.snapshot();
  }

  @Post('config')
  @ApiErrors(409)
  @HttpCode(200)
  @ApiOperation({ summary: 'Seed-compatible command: {type: event|plan|cache, action, data}' })
  @ApiBody({
    type: AdminConfigCommandDto,
    examples: {
      updateEvent: { value: { type: 'event', action: 'update', data: { eventType: 'structuring_diagnose', config: { baseCredits: 12 } } } },
      createPlan: { value: { type: 'plan', action: 'create', data: { name: 'team', config: { displayName: 'Team Plan', monthlyCredits: 3000, pricing: { monthly: 29, annual: 290 }, overageRate: 0.015 } } } },
      deleteEvent: { value: { type: 'event', action: 'delete', data: { eventType: 'push_sow_to_loe' } } },
      refreshCache: { value: { type: 'cache', action: 'refresh-all' } },
    },
  })
  command(@Body() body: AdminConfigCommandDto, @Actor() actor: string) {
    return this.service.execute(body, actor);
  }

  @Get('cache')
  @ApiOperation({ summary: 'Cache statistics per registry: hits, misses, entries, last refresh, TTL, invalidations' })
  cache() {
    return this.service.cacheStats();
  }

  @Post('cache/refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'Reload one registry, one key, or everything from the database' })
  refresh(@Body() body: CacheRefreshDto) {
    return this.service.refresh(body.registry, body.key);
  }

  @Delete('cache')
  @ApiOperation({ summary: 'Clear the caches (they reload from the database at once)' })
  clear() {
    return this.service.clear();
  }
}
