import { describe, expect, it } from '@jest/globals';
import { DEV_ADMIN_API_KEY } from '../../config/app-config';
import { connectionUrl, embeddedConfig } from './usage-tracking.module';

describe('the embedded configuration', () => {
  it('is the service’s defaults with metering’s schema, never the host’s environment', () => {
    const saved = { ...process.env };
    Object.assign(process.env, { DATABASE_URL: 'postgres://host-db/host', ADMIN_API_KEY: 'the-hosts-own-key', REDIS_URL: 'redis://host-redis', NODE_ENV: 'production' });
    try {
      const config = embeddedConfig({ databaseUrl: 'postgres://db/app' });
      expect(config).toMatchObject({ databaseUrl: 'postgres://db/app', databaseSchema: 'metering', redisUrl: undefined, jobsEnabled: true });
      // No admin route is mounted; the stand-in key is random, so neither the host's nor the dev key works.
      expect(config.adminApiKey).not.toBe('the-hosts-own-key');
      expect(config.adminApiKey).not.toBe(DEV_ADMIN_API_KEY);
      expect(config.adminApiKey.length).toBeGreaterThanOrEqual(32);
    } finally {
      process.env = saved;
    }
  });

  it.each([
    [{ databaseUrl: 'postgres://db/app', schema: 'billing', jobs: false }, { databaseSchema: 'billing', jobsEnabled: false }],
    [{ databaseUrl: 'postgres://db/app', redisUrl: 'redis://r', config: { databasePoolSize: 5 } }, { redisUrl: 'redis://r', databasePoolSize: 5 }],
    [{ dataSource: { host: 'db', port: 5433, username: 'me', password: 'p@ss/word', database: 'app', ssl: true } }, { databaseUrl: 'postgres://me:p%40ss%2Fword@db:5433/app?sslmode=require' }],
  ])('%j -> %j', (options, expected) => {
    expect(embeddedConfig(options)).toMatchObject(expected);
  });

  it('needs a PostgreSQL server, and a schema name that is safe in SQL', () => {
    expect(() => embeddedConfig({})).toThrow(/needs a PostgreSQL server/);
    expect(() => embeddedConfig({ databaseUrl: 'postgres://db/app', schema: 'x; DROP SCHEMA public' })).toThrow(/Invalid metering schema/);
  });

  it.each([
    [{ host: 'db' }, 'postgres://db/postgres'],
    [{ host: 'db', username: 'u' }, 'postgres://u@db/postgres'],
    [{ host: '10.0.0.1', port: 6432, username: 'u', password: 'p', database: 'm' }, 'postgres://u:p@10.0.0.1:6432/m'],
  ])('connection settings %j are %s', (options, url) => {
    expect(connectionUrl(options)).toBe(url);
  });
});
