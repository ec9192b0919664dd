import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { IN_MEMORY } from '../../src/database/embedded-postgres';

/**
 * Every e2e suite gets a database of its own and drops it at the end, so no test depends on leftovers.
 * PostgreSQL (DATABASE_URL set): a database cloned from the migrated, seeded template that global setup
 * made. PGlite: `memory://`, or a temp folder when the test needs files on disk.
 */
export interface TestDatabase {
  /** Set on PostgreSQL. */
  url?: string;
  /** PGlite data folder (memory:// or a temp folder). */
  dataDir: string;
  drop(): Promise<void>;
}

export const ON_POSTGRES = Boolean(process.env.DATABASE_URL);

export function serverUrl(database = 'postgres'): string {
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Refuses to touch a database whose name does not say it is a test database. */
export function assertTestDatabaseName(name: string): void {
  if (!/test/.test(name)) throw new Error(`Refusing to use database "${name}": test database names contain "test"`);
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl('postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(options: { onDisk?: boolean } = {}): Promise<TestDatabase> {
  if (ON_POSTGRES) {
    const template = process.env.TEST_TEMPLATE_DATABASE;
    if (!template) throw new Error('TEST_TEMPLATE_DATABASE is missing: the e2e global setup did not run');
    const name = `metering_test_${randomBytes(6).toString('hex')}`;
    assertTestDatabaseName(name);
    for (let attempt = 0; ; attempt++) {
      try {
        await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        break;
      } catch (error) {
        // Two suites cloning the same template at the same instant can collide; try again.
        if (attempt >= 10) throw error;
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
      }
    }
    return {
      url: serverUrl(name),
      dataDir: IN_MEMORY,
      drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    };
  }
  if (options.onDisk) {
    const dir = mkdtempSync(join(tmpdir(), 'metering-test-'));
    return { dataDir: dir, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  return { dataDir: IN_MEMORY, drop: async () => undefined };
}
