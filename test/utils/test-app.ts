import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream } from 'pino';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/app.setup';
import { Clock } from '../../src/common/clock/clock';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { collectContractViolation, contractCheckEnabled } from './contract';
import { createTestDatabase, TestDatabase } from './test-database';

export const ADMIN_KEY = 'test-admin-key-0123456789';
export const ADMIN = { Authorization: `Bearer ${ADMIN_KEY}` };

export interface TestApp {
  app: NestFastifyApplication;
  http: () => ReturnType<typeof request>;
  dataSource: DataSource;
  config: AppConfig;
  database: TestDatabase;
  /** Closes the app; drops the database unless it was passed in (shared by several instances). */
  close(): Promise<void>;
}

export interface StartTestAppOptions {
  clock?: Clock;
  config?: Partial<AppConfig>;
  /** Share one database between instances (two-instance tests); the caller drops it. */
  database?: TestDatabase;
  onDisk?: boolean;
  logDestination?: DestinationStream;
}

export function testConfig(database: TestDatabase, overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    ...loadConfig({ NODE_ENV: 'test', ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    databaseUrl: database.url,
    dataDir: database.dataDir,
    redisUrl: undefined,
    ...overrides,
  };
}

export async function startTestApp(options: StartTestAppOptions = {}): Promise<TestApp> {
  const ownsDatabase = !options.database;
  const database = options.database ?? (await createTestDatabase({ onDisk: options.onDisk }));
  const config = testConfig(database, options.config);
  let app: NestFastifyApplication;
  try {
    app = await createApp({
      config,
      clock: options.clock,
      logDestination: options.logDestination,
      onContractViolation: contractCheckEnabled ? collectContractViolation : undefined,
    });
  } catch (error) {
    if (ownsDatabase) await database.drop();
    throw error;
  }
  const server = app.getHttpServer();
  return {
    app,
    http: () => request(server),
    dataSource: app.get(DataSource),
    config,
    database,
    async close() {
      await app.close();
      if (ownsDatabase) await database.drop();
    },
  };
}
