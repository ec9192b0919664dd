import { randomBytes } from 'node:crypto';
import { ManagedDataSource } from '../src/database/managed-data-source';
import { baseDataSourceOptions } from '../src/database/data-source-options';
import { adminQuery, assertTestDatabaseName, serverUrl } from './utils/test-database';

/**
 * On PostgreSQL: migrate and seed one template database per run; each suite clones it (CREATE DATABASE …
 * TEMPLATE), which is much faster than migrating every suite's database.
 */
export default async function globalSetup(): Promise<void> {
  if (!process.env.DATABASE_URL) return;
  // Two projects (integration, e2e) name this setup: the first one's template serves both.
  if (process.env.TEST_TEMPLATE_DATABASE && process.env.TEST_TEMPLATE_OWNER === String(process.pid)) return;
  const name = `metering_template_test_${randomBytes(4).toString('hex')}`;
  assertTestDatabaseName(name);
  await adminQuery(`CREATE DATABASE ${name}`);
  const dataSource = new ManagedDataSource({ ...baseDataSourceOptions(), url: serverUrl(name) } as never);
  await dataSource.initialize();
  try {
    await dataSource.migrateAndSeed();
  } finally {
    await dataSource.destroy();
  }
  process.env.TEST_TEMPLATE_DATABASE = name;
  process.env.TEST_TEMPLATE_OWNER = String(process.pid);
}
