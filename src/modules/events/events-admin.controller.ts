import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Actor } from '../../common/auth/current-principal.decorator';
import { EVENT_DEFINITION_EXAMPLE, ListEventsQueryDto, RollbackDto, UNIT_EVENT_DEFINITION_EXAMPLE } from '../config-cache/dto/registry.dto';
import { EventRegistry } from './event-registry.service';
import { ApiErrors } from '../../openapi/api-errors.decorator';

/**
 * Event definitions. Bodies are free JSON validated whole by the registry (maps of feature bonuses and
 * cross-field rules are beyond class-validator), with one message per bad field.
 */
const EVENT_BODY_SCHEMA = {
  type: 'object',
  description:
    'A whole event definition (docs/configuration-api.md). Optional `units` {name: creditsPerUnit >= 0, at most 6 decimals} prices quantities sent as eventData.units; optional `maxUnits` {name: whole units} is what a reservation without quantities holds',
  properties: {
    units: { type: 'object', additionalProperties: { type: 'number', minimum: 0, maximum: 1_000_000 }, example: { inputTokens: 0.002, outputTokens: 0.008 } },
    maxUnits: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, example: { inputTokens: 8000, outputTokens: 2000 } },
  },
};
const EVENT_BODY_EXAMPLES = {
  features: { summary: 'Complexity and feature bonuses', value: EVENT_DEFINITION_EXAMPLE },
  units: { summary: 'Priced by tokens (units)', value: UNIT_EVENT_DEFINITION_EXAMPLE },
};

@ApiTags('admin: events')
@Controller('api/admin/events')
export class EventsAdminController {
  constructor(private readonly events: EventRegistry) {}

  @Get()
  @ApiOperation({ summary: 'List event definitions (active only unless includeInactive), optionally by category' })
  list(@Query() query: ListEventsQueryDto) {
    const items = this.events.listByCategory(query.category, query.includeInactive).map((r) => this.events.toView(r));
    return { items, count: items.length };
  }

  @Post()
  @ApiErrors(409)
  @ApiOperation({ summary: 'Create an event definition (409 when the event type exists)' })
  @ApiBody({ schema: EVENT_BODY_SCHEMA, examples: EVENT_BODY_EXAMPLES })
  async create(@Body() body: Record<string, unknown>, @Actor() actor: string) {
    return this.events.toView(await this.events.create(body, actor));
  }

  @Get(':eventType')
  @ApiOperation({ summary: 'One event definition (inactive ones too)' })
  async get(@Param('eventType') eventType: string) {
    return this.events.toView(await this.events.findOrThrow(eventType));
  }

  @Put(':eventType')
  @ApiOperation({ summary: 'Replace (or create) an event definition: a new version' })
  @ApiBody({ schema: EVENT_BODY_SCHEMA, examples: EVENT_BODY_EXAMPLES })
  async put(@Param('eventType') eventType: string, @Body() body: Record<string, unknown>, @Actor() actor: string) {
    return this.events.toView(await this.events.put(eventType, body, actor));
  }

  @Patch(':eventType')
  @ApiOperation({ summary: 'Change some fields of an event definition: a new version' })
  @ApiBody({ schema: { type: 'object', example: { baseCredits: 12 } } })
  async patch(@Param('eventType') eventType: string, @Body() body: Record<string, unknown>, @Actor() actor: string) {
    return this.events.toView(await this.events.patch(eventType, body, actor));
  }

  @Delete(':eventType')
  @ApiOperation({ summary: 'Deactivate an event definition (history and recorded events stay)' })
  async deactivate(@Param('eventType') eventType: string, @Actor() actor: string) {
    return this.events.toView(await this.events.deactivate(eventType, actor));
  }

  @Get(':eventType/history')
  @ApiOperation({ summary: 'Every version, newest first, with who, when, before and after' })
  async history(@Param('eventType') eventType: string) {
    const items = await this.events.history(eventType);
    return { items, count: items.length };
  }

  @Post(':eventType/rollback')
  @HttpCode(200)
  @ApiOperation({ summary: "Make an earlier version's content the new current version" })
  async rollback(@Param('eventType') eventType: string, @Body() body: RollbackDto, @Actor() actor: string) {
    return this.events.toView(await this.events.rollback(eventType, body.version, actor));
  }
}
