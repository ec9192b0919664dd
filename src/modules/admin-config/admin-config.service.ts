import { Injectable } from '@nestjs/common';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { isPlainObject } from '../../common/validation/json-validators';
import { deepMerge } from '../config-cache/deep-merge';
import { DefinitionRegistry } from '../config-cache/definition-registry';
import { EventRegistry } from '../events/event-registry.service';
import { PlanRegistry } from '../plans/plan-registry.service';
import { AdminConfigCommandDto, CONFIG_ACTIONS } from './dto/admin-config-command.dto';

/** The seed-compatible `/api/admin/config` surface, on top of the two registries. */
@Injectable()
export class AdminConfigService {
  constructor(
    private readonly events: EventRegistry,
    private readonly plans: PlanRegistry,
  ) {}

  snapshot() {
    const events: { [eventType: string]: ReturnType<EventRegistry['toView']> } = Object.fromEntries(this.events.list(true).map((r) => [r.key, this.events.toView(r)]));
    const plans: { [name: string]: ReturnType<PlanRegistry['toView']> } = Object.fromEntries(this.plans.listPlans({ includeInactive: true }).map((r) => [r.key, this.plans.toView(r)]));
    return {
      events,
      plans,
      cache: this.cacheStats(),
    };
  }

  cacheStats() {
    return { events: this.events.stats(), plans: this.plans.stats() };
  }

  async refresh(registry: 'events' | 'plans' | 'all' = 'all', key?: string) {
    const targets = registry === 'events' ? [this.events] : registry === 'plans' ? [this.plans] : [this.events, this.plans];
    if (key) {
      if (registry === 'all') throw validationFailed({ registry: ['name the registry (events or plans) to reload one key'] });
      await targets[0].reloadKey(key);
    } else {
      await Promise.all(targets.map((t) => t.refresh()));
    }
    return this.cacheStats();
  }

  async clear() {
    await Promise.all([this.events.clear(), this.plans.clear()]);
    return this.cacheStats();
  }

  async execute(command: AdminConfigCommandDto, actor: string) {
    const allowed = CONFIG_ACTIONS[command.type] as readonly string[];
    if (!allowed.includes(command.action)) {
      throw validationFailed({ action: [`action for type ${command.type} must be one of ${allowed.join(', ')}`] });
    }
    if (command.type === 'cache') {
      switch (command.action) {
        case 'stats':
          return { success: true, cache: this.cacheStats() };
        case 'clear':
          return { success: true, cache: await this.clear() };
        case 'refresh-all':
          return { success: true, cache: await this.refresh('all') };
        default: {
          const kind = command.data?.type;
          const registry = kind === 'event' ? 'events' : kind === 'plan' ? 'plans' : 'all';
          const key = typeof command.data?.key === 'string' ? command.data.key : undefined;
          return { success: true, cache: await this.refresh(registry, key) };
        }
      }
    }
    return command.type === 'event'
      ? this.mutate(this.events, 'eventType', command, actor)
      : this.mutate(this.plans, 'name', command, actor);
  }

  private async mutate<C, K extends string>(registry: DefinitionRegistry<C, K>, keyField: K, command: AdminConfigCommandDto, actor: string) {
    const data = command.data ?? {};
    const key = data[keyField];
    if (typeof key !== 'string' || key.length === 0) throw validationFailed({ [`data.${keyField}`]: [`data.${keyField} is required`] });
    const unknown = Object.keys(data).filter((k) => k !== keyField && k !== 'config');
    if (unknown.length > 0) throw validationFailed(Object.fromEntries(unknown.map((k) => [`data.${k}`, [`${k} is not a known field`]])));
    if (command.action === 'delete') {
      const record = await registry.deactivate(key, actor);
      return { success: true, type: command.type, action: command.action, [keyField]: key, definition: registry.toView(record) };
    }
    if (!isPlainObject(data.config)) throw validationFailed({ 'data.config': ['data.config must be an object'] });
    const record =
      command.action === 'create'
        ? await registry.create(deepMerge(registry.newDefinitionDefaults(key, data.config), { ...data.config, [keyField]: key }), actor)
        : await registry.upsertMerge(key, data.config, actor);
    if (!record) throw new DomainError('INTERNAL', 'Definition vanished after write');
    return { success: true, type: command.type, action: command.action, [keyField]: key, definition: registry.toView(record) };
  }
}
