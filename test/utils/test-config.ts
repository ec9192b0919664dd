import { AppConfig, loadConfig } from '../../src/config/app-config';
import type { TestDatabase } from './test-database';

/**
 * The configuration every test tier starts from (the app of the e2e suites, the Nest testing module of the
 * integration suites): the test admin key, quiet logs, the suite's own database, no Redis.
 */
export const ADMIN_KEY = 'test-admin-key-0123456789';
export const ADMIN = { Authorization: `Bearer ${ADMIN_KEY}` };

export function testConfig(database: TestDatabase, overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    ...loadConfig({ NODE_ENV: 'test', ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    databaseUrl: database.url,
    dataDir: database.dataDir,
    redisUrl: undefined,
    ...overrides,
  };
}
