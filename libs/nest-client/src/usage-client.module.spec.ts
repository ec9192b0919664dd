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
import { UsageKeyCheck } from './usage-key-check.service';

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
    const moduleRef = await Test.createTestingModule({ imports: [UsageClientModule.forRoot({ baseUrl: 'http://metering.test:5000', apiKey: 'nxk_x', journalPath, checkKeyAtBoot: false })] }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    expect(moduleRef.get(UsageClient).options.baseUrl).toBe('http://metering.test:5000');
    expect(moduleRef.get(TrackUsageInterceptor)).toBeInstanceOf(TrackUsageInterceptor);
    expect(moduleRef.get(UsageDeliveryService).journal.path).toBe(journalPath);
    expect(existsSync(`${journalPath}.lock`)).toBe(true);
    await app.close();
    expect(existsSync(`${journalPath}.lock`)).toBe(false);
  });

  it.each<[string, Response, string | null, 'error' | null]>([
    ['a track-only key: nothing logged', new Response(JSON.stringify({ kind: 'organization', organizationId: 'acme', scopes: ['track'] }), { status: 200 }), null, null],
    ['a key without track: one error line naming the scope', new Response(JSON.stringify({ statusCode: 403, error: 'FORBIDDEN', message: 'This API key lacks the scope track' }), { status: 403 }), 'cannot meter', 'error'],
  ])('checks its key at boot, in the background: %s', async (_case, answer, logged, level) => {
    dir = mkdtempSync(join(tmpdir(), 'module-spec-'));
    const lines: Array<[string, string]> = [];
    const logger = { log: () => undefined, warn: (m: string) => void lines.push(['warn', m]), error: (m: string) => void lines.push(['error', m]), debug: () => undefined, verbose: () => undefined };
    const fetch = (async () => answer) as unknown as typeof globalThis.fetch;
    const moduleRef = await Test.createTestingModule({ imports: [UsageClientModule.forRoot({ baseUrl: 'http://metering.test:5000', apiKey: 'nxk_x', journalPath: join(dir, 'j.jsonl'), fetch })] }).compile();
    const app = moduleRef.createNestApplication({ logger });
    await app.init();
    const check = await moduleRef.get(UsageKeyCheck).result;
    expect(check?.ok).toBe(logged === null);
    const ours = lines.filter(([, m]) => m.startsWith('credit-metering'));
    if (logged === null) expect(ours).toEqual([]);
    else {
      expect(ours).toHaveLength(1);
      expect(ours[0][0]).toBe(level);
      expect(ours[0][1]).toContain(logged);
    }
    await app.close();
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
