import { newPlanDefinitionDefaults } from '../config-cache/utils/new-definition-defaults';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import Big from 'big.js';
import type { Cache } from 'cache-manager';
import { DataSource } from 'typeorm';
import { Clock } from '../../common/clock/clock';
import { MetricsService } from '../../common/metrics/metrics.service';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { ConfigChangeBus } from '../config-cache/config-change-bus';
import { DefinitionRecord, DefinitionRegistry } from '../config-cache/definition-registry';
import type { PlanDefinitionConfig } from './entities/plan-definition.entity';
import { validatePlanDefinition } from './utils/plan-definition.validator';

export type PlanDefinitionRecord = DefinitionRecord<PlanDefinitionConfig>;

export interface PlanListFilter {
  minPrice?: number;
  maxPrice?: number;
  includeInactive?: boolean;
}

@Injectable()
export class PlanRegistry extends DefinitionRegistry<PlanDefinitionConfig, 'name'> {
  protected readonly kind = 'plan' as const;
  protected readonly table = 'plan_definitions';
  protected readonly keyColumn = 'name';
  protected readonly keyField = 'name' as const;
  protected readonly notFoundCode = 'PLAN_NOT_FOUND' as const;

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

  newDefinitionDefaults(name: string, input: Record<string, unknown>): Record<string, unknown> {
    return newPlanDefinitionDefaults(name, input);
  }

  protected validate(input: unknown, fallbackIsActive: boolean) {
    const valid = validatePlanDefinition(input, fallbackIsActive);
    return { key: valid.name, config: valid.config, isActive: valid.isActive };
  }

  protected indexColumns(config: PlanDefinitionConfig): Record<string, unknown> {
    return { sort_order: config.sortOrder, monthly_price: String(config.pricing.monthly) };
  }

  /** Sorted by monthly price (then sortOrder), filtered by price; prices compared as decimals. */
  listPlans(filter: PlanListFilter = {}): PlanDefinitionRecord[] {
    return this.list(filter.includeInactive)
      .filter((r) => filter.minPrice === undefined || new Big(r.config.pricing.monthly).gte(filter.minPrice))
      .filter((r) => filter.maxPrice === undefined || new Big(r.config.pricing.monthly).lte(filter.maxPrice))
      .sort((a, b) => new Big(a.config.pricing.monthly).cmp(b.config.pricing.monthly) || a.config.sortOrder - b.config.sortOrder || a.key.localeCompare(b.key));
  }
}
