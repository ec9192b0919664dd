import { validationFailed } from '../../../common/errors/domain-error';
import { JsonChecker, SLUG } from '../../../common/validation/json-validators';
import { LIMIT_NAME, MAX_LIMIT_VALUE, MAX_PLAN_LIMITS, PLAN_LIMIT_KEYS, PlanDefinitionConfig } from '../entities/plan-definition.entity';

const FIELDS = ['name', 'displayName', 'description', 'monthlyCredits', 'pricing', 'limits', 'features', 'overageRate', 'warningThresholds', 'isActive', 'sortOrder', 'version', 'createdAt', 'updatedAt'] as const;
export const DEFAULT_WARNING_THRESHOLDS = [0.8, 0.9, 1.0];

export interface ValidPlanDefinition {
  name: string;
  config: PlanDefinitionConfig;
  isActive: boolean;
}

/** Validates a whole plan definition (docs/configuration-api.md); one message per bad field. */
export function validatePlanDefinition(input: unknown, fallbackIsActive = true): ValidPlanDefinition {
  const c = new JsonChecker();
  const doc = c.object(input, 'definition');
  if (!doc) throw validationFailed(c.errors, 'Invalid plan definition');
  c.unknownFields(doc, FIELDS);

  const name = c.string(doc.name, 'name', { min: 2, max: 64, pattern: SLUG, patternText: 'a slug like starter (^[a-z][a-z0-9_]{1,63}$)' });
  const displayName = c.string(doc.displayName, 'displayName', { min: 1, max: 200 });
  const description = doc.description === undefined ? '' : c.string(doc.description, 'description', { max: 2000 });
  const monthlyCredits = c.integer(doc.monthlyCredits, 'monthlyCredits', 0, 1_000_000_000);
  const isActive = doc.isActive === undefined ? fallbackIsActive : c.boolean(doc.isActive, 'isActive');
  const sortOrder = doc.sortOrder === undefined ? 0 : c.integer(doc.sortOrder, 'sortOrder', -1_000_000, 1_000_000);

  let pricing: { monthly: number; annual: number } | undefined;
  const p = c.object(doc.pricing, 'pricing');
  if (p) {
    c.unknownFields(p, ['monthly', 'annual'], 'pricing');
    const monthly = c.amount(p.monthly, 'pricing.monthly', 10_000_000);
    const annual = c.amount(p.annual, 'pricing.annual', 100_000_000);
    if (monthly !== undefined && annual !== undefined) pricing = { monthly, annual };
  }

  // The known limits always read (null = unlimited); any other name is a count limit an operator adds, which
  // events count toward through their definition's countsToward.
  const limits = {} as PlanDefinitionConfig['limits'];
  for (const key of PLAN_LIMIT_KEYS) limits[key] = null;
  if (doc.limits !== undefined && doc.limits !== null) {
    const l = c.object(doc.limits, 'limits');
    if (l) {
      const names = new Set([...PLAN_LIMIT_KEYS, ...Object.keys(l)]);
      if (names.size > MAX_PLAN_LIMITS) c.fail('limits', `a plan may have at most ${MAX_PLAN_LIMITS} limits (the ${PLAN_LIMIT_KEYS.length} known ones included)`);
      for (const [key, raw] of Object.entries(l)) {
        if (!LIMIT_NAME.test(key)) {
          c.fail(`limits.${key.slice(0, 80)}`, 'limit names must be identifiers of at most 64 characters (^[a-z][A-Za-z0-9_]{0,63}$)');
          continue;
        }
        if (raw === undefined || raw === null) {
          limits[key] = null;
          continue;
        }
        const value = c.integer(raw, `limits.${key}`, 0, MAX_LIMIT_VALUE);
        if (value !== undefined) limits[key] = value;
      }
    }
  }

  let features: string[] | undefined = [];
  if (doc.features !== undefined && doc.features !== null) {
    if (!Array.isArray(doc.features) || doc.features.length > 100) features = c.fail('features', 'features must be a list of at most 100 strings');
    else {
      doc.features.forEach((f, i) => {
        if (typeof f !== 'string' || f.length === 0 || f.length > 200) c.fail(`features[${i}]`, 'each feature must be a non-empty string of at most 200 characters');
      });
      features = doc.features as string[];
    }
  }

  let overageRate: number | null | undefined = null;
  if (doc.overageRate !== undefined && doc.overageRate !== null) {
    overageRate = c.number(doc.overageRate, 'overageRate', 0, 1000);
    if (overageRate !== undefined && !/^\d+(\.\d{1,6})?$/.test(String(overageRate))) overageRate = c.fail('overageRate', 'overageRate must have at most 6 decimals');
  }

  let warningThresholds: number[] | undefined = DEFAULT_WARNING_THRESHOLDS;
  if (doc.warningThresholds !== undefined && doc.warningThresholds !== null) {
    const t = doc.warningThresholds;
    if (!Array.isArray(t) || t.length > 10) warningThresholds = c.fail('warningThresholds', 'warningThresholds must be a list of at most 10 numbers');
    else {
      t.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1) c.fail(`warningThresholds[${i}]`, 'each threshold must be a number in (0, 1]');
        else if (i > 0 && typeof t[i - 1] === 'number' && v <= (t[i - 1] as number)) c.fail(`warningThresholds[${i}]`, 'thresholds must be strictly increasing');
      });
      warningThresholds = t as number[];
    }
  }

  if (!c.ok) throw validationFailed(c.errors, 'Invalid plan definition');
  return {
    name: name!,
    isActive: isActive!,
    config: {
      displayName: displayName!,
      description: description!,
      monthlyCredits: monthlyCredits!,
      pricing: pricing!,
      limits,
      features: features!,
      overageRate: overageRate ?? null,
      warningThresholds: warningThresholds!,
      sortOrder: sortOrder!,
    },
  };
}
