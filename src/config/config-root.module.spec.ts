import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError } from './app-config';
import { loadConfigFromEnvironment } from './config-root.module';

const VARIABLES = ['PORT', 'CONFIG_CACHE_TTL_SECONDS', 'JOB_PERIOD_CLOSE_CRON', 'BODY_LIMIT_BYTES'];

describe('loadConfigFromEnvironment (@nestjs/config with loadConfig as its validate hook)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'metering-config-'));
  const saved = Object.fromEntries(VARIABLES.map((v) => [v, process.env[v]]));
  afterEach(() => {
    for (const v of VARIABLES) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  function envFile(text: string): string {
    const file = join(folder, `${Math.random().toString(36).slice(2)}.env`);
    writeFileSync(file, text);
    return file;
  }

  it('reads .env, and the real environment wins over it', async () => {
    for (const v of VARIABLES) delete process.env[v];
    process.env.PORT = '6100';
    const { config, configModule } = await loadConfigFromEnvironment({ envFilePath: envFile('PORT=7000\nCONFIG_CACHE_TTL_SECONDS=42\nJOB_PERIOD_CLOSE_CRON=*/20 * * * *\n') });
    expect(config).toMatchObject({ port: 6100, configCacheTtlSeconds: 42, jobSchedules: { 'period-close': '*/20 * * * *' } });
    expect(configModule.exports).toBeDefined();
  });

  it('no .env file: the process environment and the defaults', async () => {
    for (const v of VARIABLES) delete process.env[v];
    const { config } = await loadConfigFromEnvironment({ envFilePath: join(folder, 'absent.env') });
    expect(config).toMatchObject({ port: 5000, configCacheTtlSeconds: 300 });
  });

  it('a bad file rejects with one message per bad variable', async () => {
    for (const v of VARIABLES) delete process.env[v];
    const rejected = loadConfigFromEnvironment({ envFilePath: envFile('PORT=http\nBODY_LIMIT_BYTES=1\nJOB_PERIOD_CLOSE_CRON=sometimes\n') });
    await expect(rejected).rejects.toBeInstanceOf(ConfigValidationError);
    await expect(rejected).rejects.toMatchObject({
      problems: [expect.stringMatching(/^PORT /), expect.stringMatching(/^BODY_LIMIT_BYTES /), expect.stringMatching(/^JOB_PERIOD_CLOSE_CRON must be a cron expression/)],
    });
  });
});
