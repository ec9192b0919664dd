import { describe, expect, it } from '@jest/globals';
import { validateEventDefinition } from '../../events/utils/event-definition.validator';
import { validatePlanDefinition } from '../../plans/utils/plan-definition.validator';
import { deepMerge } from '../deep-merge';
import { displayNameFromKey, newEventDefinitionDefaults, newPlanDefinitionDefaults } from './new-definition-defaults';

describe('displayNameFromKey', () => {
  it.each([
    ['test_event', 'Test Event'],
    ['structuring_diagnose', 'Structuring Diagnose'],
    ['pro', 'Pro'],
    ['team2_plus', 'Team2 Plus'],
    ['a__b', 'A B'],
  ])('%s -> %s', (key, name) => expect(displayNameFromKey(key)).toBe(name));
});

describe('defaults of a definition created through /api/admin/config', () => {
  it("the seed's test_event: named after its type, no multipliers, active", () => {
    const given = { eventType: 'test_event', baseCredits: 5, description: 'Test hot-reload event', category: 'test' };
    expect(validateEventDefinition(deepMerge(newEventDefinitionDefaults('test_event'), given))).toEqual({
      eventType: 'test_event',
      isActive: true,
      config: expect.objectContaining({ displayName: 'Test Event', category: 'test', baseCredits: 5, description: 'Test hot-reload event', multipliers: { complexity: null, features: {} }, limitKey: null }),
    });
  });

  it('an event without a category is `general`; one without a price is still refused', () => {
    expect(validateEventDefinition(deepMerge(newEventDefinitionDefaults('ping'), { eventType: 'ping', baseCredits: 1 })).config.category).toBe('general');
    expect(() => validateEventDefinition(deepMerge(newEventDefinitionDefaults('ping'), { eventType: 'ping' }))).toThrow(/Invalid event definition/);
  });

  it.each([
    [19, 228],
    [19.99, 239.88],
    [0.1, 1.2],
    [0, 0],
  ])('a plan priced %s a month costs %s a year unless told', (monthly, annual) => {
    const given = { name: 'team', monthlyCredits: 2000, pricing: { monthly } };
    const plan = validatePlanDefinition(deepMerge(newPlanDefinitionDefaults('team', given), given));
    expect(plan).toMatchObject({ name: 'team', isActive: true, config: { displayName: 'Team', pricing: { monthly, annual }, overageRate: null, features: [], warningThresholds: [0.8, 0.9, 1.0], sortOrder: 0 } });
    expect(Object.values(plan.config.limits).every((v) => v === null)).toBe(true);
  });

  it('a given annual price and display name win; a bad monthly price is left to the validator to refuse', () => {
    const given = { name: 'team', displayName: 'Team Plan', monthlyCredits: 2000, pricing: { monthly: 19, annual: 190 } };
    expect(validatePlanDefinition(deepMerge(newPlanDefinitionDefaults('team', given), given)).config).toMatchObject({ displayName: 'Team Plan', pricing: { monthly: 19, annual: 190 } });
    expect(newPlanDefinitionDefaults('team', { pricing: { monthly: 1.234 } })).toEqual({ displayName: 'Team' });
    expect(newPlanDefinitionDefaults('team', { pricing: { monthly: -1 } })).toEqual({ displayName: 'Team' });
    expect(() => validatePlanDefinition(deepMerge(newPlanDefinitionDefaults('team', {}), { name: 'team', monthlyCredits: 10 }))).toThrow(/Invalid plan definition/);
  });
});
