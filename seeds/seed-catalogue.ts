import type { EntityManager } from 'typeorm';
import { SEED_EVENTS, SEED_PLANS } from './catalogue';

export interface SeedResult {
  eventsInserted: number;
  plansInserted: number;
}

/**
 * Loads the catalogue. Idempotent: a definition that exists (even one an operator changed or deactivated)
 * is left exactly as it is; only missing ones are inserted, each with its version 1 in the history.
 */
export async function seedCatalogue(manager: EntityManager): Promise<SeedResult> {
  return manager.transaction(async (tx) => {
    let eventsInserted = 0;
    let plansInserted = 0;
    for (const { eventType, ...config } of SEED_EVENTS) {
      const inserted = (await tx.query(
        `INSERT INTO event_definitions (event_type, category, config) VALUES ($1, $2, $3)
         ON CONFLICT (event_type) DO NOTHING RETURNING event_type`,
        [eventType, config.category, JSON.stringify(config)],
      )) as unknown[];
      if (inserted.length > 0) {
        eventsInserted++;
        await tx.query(
          `INSERT INTO definition_versions (kind, key, version, action, actor, is_active, before, after)
           VALUES ('event', $1, 1, 'seed', 'seed', true, NULL, $2)`,
          [eventType, JSON.stringify(config)],
        );
      }
    }
    for (const { name, ...config } of SEED_PLANS) {
      const inserted = (await tx.query(
        `INSERT INTO plan_definitions (name, sort_order, monthly_price, config) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING RETURNING name`,
        [name, config.sortOrder, String(config.pricing.monthly), JSON.stringify(config)],
      )) as unknown[];
      if (inserted.length > 0) {
        plansInserted++;
        await tx.query(
          `INSERT INTO definition_versions (kind, key, version, action, actor, is_active, before, after)
           VALUES ('plan', $1, 1, 'seed', 'seed', true, NULL, $2)`,
          [name, JSON.stringify(config)],
        );
      }
    }
    return { eventsInserted, plansInserted };
  });
}
