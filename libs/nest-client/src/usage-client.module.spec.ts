import { afterEach, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrackUsageInterceptor } from './track-usage.interceptor';
import { UsageClient } from './usage-client';
import { UsageClientModule } from './usage-client.module';
import { UsageDeliveryService } from './usage-delivery.service';

@Injectable()
class Settings {
  readonly baseUrl = 'http://metering.test:5000';
}

@Module({ providers: [Settings], exports: [Settings] })
class SettingsModule {}

describe('UsageClientModule', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('forRoot provides the client, the interceptor and the journal, globally', async () => {
    dir = mkdtempSync(join(tmpdir(), 'module-spec-'));
    const journalPath = join(dir, 'journal.jsonl');
    const moduleRef = await Test.createTestingModule({ imports: [UsageClientModule.forRoot({ baseUrl: 'http://metering.test:5000', apiKey: 'nxk_x', journalPath })] }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    expect(moduleRef.get(UsageClient).options.baseUrl).toBe('http://metering.test:5000');
    expect(moduleRef.get(TrackUsageInterceptor)).toBeInstanceOf(TrackUsageInterceptor);
    expect(moduleRef.get(UsageDeliveryService).journal.path).toBe(journalPath);
    expect(existsSync(`${journalPath}.lock`)).toBe(true);
    await app.close();
    expect(existsSync(`${journalPath}.lock`)).toBe(false);
  });

  it('forRootAsync builds the options from injected providers (ConfigService and the like)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'module-spec-'));
    const moduleRef = await Test.createTestingModule({
      imports: [
        UsageClientModule.forRootAsync({
          imports: [SettingsModule],
          inject: [Settings],
          useFactory: async (settings: Settings) => ({ baseUrl: settings.baseUrl, apiKey: 'nxk_y', journalPath: join(dir, 'j.jsonl') }),
        }),
      ],
    }).compile();
    expect(moduleRef.get(UsageClient).options).toMatchObject({ baseUrl: 'http://metering.test:5000', apiKey: 'nxk_y' });
  });
});
