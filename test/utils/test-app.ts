import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream } from 'pino';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/app.setup';
import { Clock } from '../../src/common/clock/clock';
import type { AppConfig } from '../../src/config/app-config';
import { collectContractViolation, contractCheckEnabled } from './contract';
import { createTestDatabase, ON_POSTGRES, TestDatabase } from './test-database';
import { testConfig } from './test-config';

export { ADMIN, ADMIN_KEY, testConfig } from './test-config';

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

/** Two instances of the app on one database of their own, for races across instances. */
export interface InstancePair {
  database: TestDatabase;
  a: TestApp;
  /** The second instance on PostgreSQL; on the embedded database (one process's) it is `a`. */
  b: TestApp;
  /** Closes both instances and drops the database. */
  close(): Promise<void>;
}

export async function startInstancePair(options: Omit<StartTestAppOptions, 'database'> = {}): Promise<InstancePair> {
  const database = await createTestDatabase();
  let a: TestApp | undefined;
  try {
    a = await startTestApp({ ...options, database });
    const first = a;
    const b = ON_POSTGRES ? await startTestApp({ ...options, database }) : first;
    return {
      database,
      a: first,
      b,
      async close() {
        if (b !== first) await b.close();
        await first.close();
        await database.drop();
      },
    };
  } catch (error) {
    await a?.close();
    await database.drop();
    throw error;
  }
}
