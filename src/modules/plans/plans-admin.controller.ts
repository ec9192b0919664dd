import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Actor } from '../../common/auth/current-principal.decorator';
import { PLAN_DEFINITION_EXAMPLE, ListPlansQueryDto, RollbackDto } from '../config-cache/dto/registry.dto';
import { PlanRegistry } from './plan-registry.service';
import { ApiErrors } from '../../openapi/api-errors.decorator';

/**
 * Plan definitions. Bodies are free JSON validated whole by the registry (cross-field rules such as
 * increasing thresholds are beyond class-validator), with one message per bad field.
 */
@ApiTags('admin: plans')
@Controller('api/admin/plans')
export class PlansAdminController {
  constructor(private readonly plans: PlanRegistry) {}

  @Get()
  @ApiOperation({ summary: 'List plans sorted by monthly price (active only unless includeInactive), filtered by price' })
  list(@Query() query: ListPlansQueryDto) {
    const items = this.plans.listPlans(query).map((r) => this.plans.toView(r));
    return { items, count: items.length };
  }

  @Post()
  @ApiErrors(409)
  @ApiOperation({ summary: 'Create a plan (409 when the plan exists)' })
  @ApiBody({ schema: { type: 'object', example: PLAN_DEFINITION_EXAMPLE } })
  async create(@Body() body: Record<string, unknown>, @Actor() actor: string) {
    return this.plans.toView(await this.plans.create(body, actor));
  }

  @Get(':name')
  @ApiOperation({ summary: 'One plan (inactive ones too)' })
  async get(@Param('name') name: string) {
    return this.plans.toView(await this.plans.findOrThrow(name));
  }

  @Put(':name')
  @ApiOperation({ summary: 'Replace (or create) a plan: a new version' })
  @ApiBody({ schema: { type: 'object', example: PLAN_DEFINITION_EXAMPLE } })
  async put(@Param('name') name: string, @Body() body: Record<string, unknown>, @Actor() actor: string) {
    return this.plans.toView(await this.plans.put(name, body, actor));
  }

  @Patch(':name')
  @ApiOperation({ summary: 'Change some fields of a plan: a new version' })
  @ApiBody({ schema: { type: 'object', example: { monthlyCredits: 1200 } } })
  async patch(@Param('name') name: string, @Body() body: Record<string, unknown>, @Actor() actor: string) {
    return this.plans.toView(await this.plans.patch(name, body, actor));
  }

  @Delete(':name')
  @ApiOperation({ summary: 'Deactivate a plan (history and organizations on it stay)' })
  async deactivate(@Param('name') name: string, @Actor() actor: string) {
    return this.plans.toView(await this.plans.deactivate(name, actor));
  }

  @Get(':name/history')
  @ApiOperation({ summary: 'Every version, newest first, with who, when, before and after' })
  async history(@Param('name') name: string) {
    const items = await this.plans.history(name);
    return { items, count: items.length };
  }

  @Post(':name/rollback')
  @HttpCode(200)
  @ApiOperation({ summary: "Make an earlier version's content the new current version" })
  async rollback(@Param('name') name: string, @Body() body: RollbackDto, @Actor() actor: string) {
    return this.plans.toView(await this.plans.rollback(name, body.version, actor));
  }
}
