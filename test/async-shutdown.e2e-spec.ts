import { beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { loadConfig } from '../src/config/app-config';
import { openDataSource } from '../src/database/open-data-source';
import { createTestDatabase } from './utils/test-database';
import { ADMIN, ADMIN_KEY } from './utils/test-app';
import { buildService, startService } from './utils/service-process';

/**
 * A graceful shutdown flushes every accepted asynchronous event. A real process gets a real
 * SIGTERM while the events wait in memory (the flush interval is a minute).
 */
describe('asynchronous tracking on SIGTERM', () => {
  beforeAll(() => buildService(), 120_000);

  it('every accepted event is in the ledger after SIGTERM', async () => {
    const database = await createTestDatabase({ onDisk: true });
    const env = database.url ? { DATABASE_URL: database.url } : { DATA_DIR: database.dataDir, DATABASE_URL: '' };
    const service = await startService({ ...env, ADMIN_API_KEY: ADMIN_KEY, ASYNC_FLUSH_INTERVAL_MS: '60000', ASYNC_BATCH_SIZE: '1000' });
    let ds: DataSource | undefined;
    try {
      const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        fetch(`${service.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...ADMIN, ...headers }, body: JSON.stringify(body) });
      expect((await post('/api/admin/organizations', { id: 'async-org', name: 'Async', plan: 'starter' })).status).toBe(201);
      const N = 150;
      const responses = await Promise.all(Array.from({ length: N }, (_, i) => post('/api/push/structuring-to-visuals', { n: i }, { 'X-Organization-Id': 'async-org' })));
      expect(responses.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
      service.child.kill('SIGTERM');
      expect(await service.exited).toBe(0);
      ds = await openDataSource({ ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), databaseUrl: database.url, dataDir: database.dataDir });
      const [{ n, credits }] = await ds.query(`SELECT count(*)::int AS n, coalesce(sum(credits), 0)::int AS credits FROM usage_events WHERE organization_id = 'async-org'`);
      expect(n).toBe(N);
      expect(credits).toBe(N);
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
      await ds?.destroy();
      await database.drop();
    }
  }, 180_000);
});
