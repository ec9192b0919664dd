import { isPlainObject } from '../../common/validation/json-validators';

/** PATCH semantics: plain objects merge key by key; arrays, scalars and null replace. */
export function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    result[key] = isPlainObject(value) && isPlainObject(result[key]) ? deepMerge(result[key] as Record<string, unknown>, value) : value;
  }
  return result;
}
