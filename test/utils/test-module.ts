import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import type { Type } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Clock } from '../../src/common/clock/clock';
import type { AppConfig } from '../../src/config/app-config';
import { InfrastructureModule } from '../../src/core/infrastructure.module';
import { UsageCoreModule } from '../../src/modules/usage/usage-core.module';
import { testConfig } from './test-config';
import { createTestDatabase } from './test-database';
import type { TestDatabase } from './test-database';

/**
 * The integration tier: the ledger and the services over it in a Nest testing module (the infrastructure:
 * config, clock, the database migrated and seeded; the usage core: tracker, reservations, the ledger module),
 * with no HTTP server, no controllers mounted and no jobs. Its own database like an e2e suite (a clone of the
 * migrated template on PostgreSQL, a fresh in-memory PGlite otherwise).
 */
export interface TestModule {
  module: TestingModule;
  dataSource: DataSource;
  config: AppConfig;
  database: TestDatabase;
  /** A provider of any module in the tree (not only the exported ones: EventPreparer, LedgerRecorder…). */
  get<T>(type: Type<T>): T;
  close(): Promise<void>;
}

export async function startTestModule(options: { clock?: Clock; config?: Partial<AppConfig> } = {}): Promise<TestModule> {
  const database = await createTestDatabase();
  const config = testConfig(database, options.config);
  let module: TestingModule;
  try {
    module = await Test.createTestingModule({
      imports: [InfrastructureModule.forRoot({ config, clock: options.clock, database: { seed: true } }), UsageCoreModule],
    }).compile();
    await module.init();
  } catch (error) {
    await database.drop();
    throw error;
  }
  return {
    module,
    dataSource: module.get(DataSource, { strict: false }),
    config,
    database,
    get: <T>(type: Type<T>) => module.get(type, { strict: false }),
    async close() {
      await module.close();
      await database.drop();
    },
  };
}
