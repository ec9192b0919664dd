import { newEventDefinitionDefaults } from '../config-cache/utils/new-definition-defaults';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { DataSource } from 'typeorm';
import { Clock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { MetricsService } from '../../common/metrics/metrics.service';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { ConfigChangeBus } from '../config-cache/config-change-bus';
import { DefinitionRecord, DefinitionRegistry } from '../config-cache/definition-registry';
import { countsTowardOf, type EventDefinitionConfig } from './entities/event-definition.entity';
import { validateEventDefinition } from './utils/event-definition.validator';

export type EventDefinitionRecord = DefinitionRecord<EventDefinitionConfig>;

@Injectable()
export class EventRegistry extends DefinitionRegistry<EventDefinitionConfig, 'eventType'> {
  protected readonly kind = 'event' as const;
  protected readonly table = 'event_definitions';
  protected readonly keyColumn = 'event_type';
  protected readonly keyField = 'eventType' as const;
  protected readonly notFoundCode = 'EVENT_TYPE_NOT_FOUND' as const;

  constructor(
    dataSource: DataSource,
    @Inject(CACHE_MANAGER) cache: Cache,
    bus: ConfigChangeBus,
    clock: Clock,
    @Inject(APP_CONFIG) config: AppConfig,
    metrics: MetricsService,
  ) {
    super(dataSource, cache, bus, clock, config, metrics);
  }

  newDefinitionDefaults(eventType: string): Record<string, unknown> {
    return newEventDefinitionDefaults(eventType);
  }

  protected validate(input: unknown, fallbackIsActive: boolean) {
    const valid = validateEventDefinition(input, fallbackIsActive);
    return { key: valid.eventType, config: valid.config, isActive: valid.isActive };
  }

  /** Definitions stored before countsToward (the seed writes limitKey) serve it too: the same names. */
  protected override normalizeConfig(config: EventDefinitionConfig): EventDefinitionConfig {
    return config.countsToward ? config : { ...config, countsToward: countsTowardOf(config) };
  }

  /**
   * A change that names the limits in either spelling replaces both: PATCH {limitKey: "x"} onto a definition
   * served with countsToward must not be read as two disagreeing spellings.
   */
  protected override patchBase(base: Record<string, unknown>, body: Record<string, unknown>): Record<string, unknown> {
    if (body.countsToward === undefined && body.limitKey === undefined) return base;
    const { countsToward: _names, limitKey: _old, ...rest } = base;
    return rest;
  }

  protected indexColumns(config: EventDefinitionConfig): Record<string, unknown> {
    return { category: config.category };
  }

  /** The definition an event is priced with: 404 when unknown, 409 when deactivated. */
  async findTrackable(eventType: string): Promise<EventDefinitionRecord> {
    const definition = await this.findOrThrow(eventType);
    if (!definition.isActive) throw new DomainError('EVENT_TYPE_INACTIVE', `Event type "${eventType}" is not active`, { eventType });
    return definition;
  }

  listByCategory(category: string | undefined, includeInactive = false): EventDefinitionRecord[] {
    return this.list(includeInactive).filter((r) => !category || r.config.category === category);
  }
}
