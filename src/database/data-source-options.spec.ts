import { describe, expect, it } from '@jest/globals';
import { assertSchemaName, schemaConnectionOptions } from './data-source-options';

describe('metering schema names', () => {
  it.each(['metering', 'metering_bare', '_m1', 'a'.repeat(63)])('accepts %s', (name) => {
    expect(assertSchemaName(name)).toBe(name);
  });

  // Each would be SQL or a second search_path entry if it got through: it is put in CREATE SCHEMA and `-c`.
  it.each(['', 'Metering', 'metering; DROP TABLE x', 'a,public', 'a b', '1metering', 'a'.repeat(64), 'metering"'])('refuses %j', (name) => {
    expect(() => assertSchemaName(name)).toThrow(/Invalid metering schema/);
  });

  it('puts the schema alone on every connection’s search_path and in TypeORM’s schema, keeping the pool settings', () => {
    expect(schemaConnectionOptions('metering', { max: 20 })).toEqual({ schema: 'metering', extra: { max: 20, options: '-c search_path=metering' } });
    expect(() => schemaConnectionOptions('x,public')).toThrow();
  });
});
