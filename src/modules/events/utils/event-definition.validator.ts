import { validationFailed } from '../../../common/errors/domain-error';
import { JsonChecker, SLUG } from '../../../common/validation/json-validators';
import type { EventDefinitionConfig } from '../entities/event-definition.entity';

/** Plan limits that an event can count toward (team members and storage are not per-event counts). */
export const EVENT_LIMIT_KEYS = ['aiCallsPerMonth', 'pdfExportsPerMonth', 'sessionLimit'] as const;

const FIELDS = ['eventType', 'displayName', 'description', 'category', 'baseCredits', 'endpoint', 'multipliers', 'limitKey', 'metadata', 'isActive', 'version', 'createdAt', 'updatedAt'] as const;
const MAX_METADATA_BYTES = 8 * 1024;

export interface ValidEventDefinition {
  eventType: string;
  config: EventDefinitionConfig;
  isActive: boolean;
}

/**
 * Validates a whole event definition (SPEC section 2). Returns it normalized (defaults filled in) or throws
 * VALIDATION_FAILED with one message per bad field. `version`, `createdAt` and `updatedAt` are accepted so a
 * definition read from the API can be sent back, but the server owns them and ignores what is sent.
 */
export function validateEventDefinition(input: unknown, fallbackIsActive = true): ValidEventDefinition {
  const c = new JsonChecker();
  const doc = c.object(input, 'definition');
  if (!doc) throw validationFailed(c.errors, 'Invalid event definition');
  c.unknownFields(doc, FIELDS);

  const eventType = c.string(doc.eventType, 'eventType', { min: 2, max: 64, pattern: SLUG, patternText: 'a slug like structuring_diagnose (^[a-z][a-z0-9_]{1,63}$)' });
  const displayName = c.string(doc.displayName, 'displayName', { min: 1, max: 200 });
  const description = doc.description === undefined ? '' : c.string(doc.description, 'description', { max: 2000 });
  const category = c.string(doc.category, 'category', { min: 2, max: 64, pattern: SLUG, patternText: 'a slug like ai_analysis' });
  const baseCredits = c.amount(doc.baseCredits, 'baseCredits');
  const endpoint = doc.endpoint === undefined || doc.endpoint === null ? null : c.string(doc.endpoint, 'endpoint', { min: 1, max: 500, pattern: /^\/\S*$/, patternText: 'a path starting with /' });
  const limitKey = doc.limitKey === undefined || doc.limitKey === null ? null : (EVENT_LIMIT_KEYS as readonly string[]).includes(doc.limitKey as string) ? (doc.limitKey as string) : c.fail('limitKey', `limitKey must be one of ${EVENT_LIMIT_KEYS.join(', ')}`);
  const isActive = doc.isActive === undefined ? fallbackIsActive : c.boolean(doc.isActive, 'isActive');

  let metadata: Record<string, unknown> | undefined = {};
  if (doc.metadata !== undefined && doc.metadata !== null) {
    metadata = c.object(doc.metadata, 'metadata');
    if (metadata && JSON.stringify(metadata).length > MAX_METADATA_BYTES) c.fail('metadata', `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`);
  }

  let multipliers: EventDefinitionConfig['multipliers'] | undefined = { complexity: null, features: {} };
  if (doc.multipliers !== undefined && doc.multipliers !== null) {
    const m = c.object(doc.multipliers, 'multipliers');
    if (m) {
      c.unknownFields(m, ['complexity', 'features'], 'multipliers');
      let complexity: { min: number; max: number } | null = null;
      if (m.complexity !== undefined && m.complexity !== null) {
        const cx = c.object(m.complexity, 'multipliers.complexity');
        if (cx) {
          c.unknownFields(cx, ['min', 'max'], 'multipliers.complexity');
          const min = c.number(cx.min, 'multipliers.complexity.min', 1, 10);
          const max = c.number(cx.max, 'multipliers.complexity.max', 1, 10);
          if (min !== undefined && max !== undefined) {
            if (min > max) c.fail('multipliers.complexity', 'multipliers.complexity.min must be <= multipliers.complexity.max');
            else complexity = { min, max };
          }
        }
      }
      const features: Record<string, number> = {};
      if (m.features !== undefined && m.features !== null) {
        const f = c.object(m.features, 'multipliers.features');
        if (f) {
          for (const [name, bonus] of Object.entries(f)) {
            if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) c.fail(`multipliers.features.${name}`, 'feature names must be identifiers of at most 64 characters');
            else if (['complexity', 'features', 'inputText', 'input'].includes(name)) c.fail(`multipliers.features.${name}`, `${name} is reserved and cannot be a feature`);
            const value = c.amount(bonus, `multipliers.features.${name}`);
            if (value !== undefined) features[name] = value;
          }
        }
      }
      multipliers = { complexity, features };
    }
  }

  if (!c.ok) throw validationFailed(c.errors, 'Invalid event definition');
  return {
    eventType: eventType!,
    isActive: isActive!,
    config: {
      displayName: displayName!,
      description: description!,
      category: category!,
      baseCredits: baseCredits!,
      endpoint: endpoint ?? null,
      multipliers: multipliers!,
      limitKey: limitKey ?? null,
      metadata: metadata!,
    },
  };
}
