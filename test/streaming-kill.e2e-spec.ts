import { beforeAll, describe, expect, it } from '@jest/globals';
import Big from 'big.js';
import { FakeClock } from '../src/common/clock/clock';
import { ReservationsService } from '../src/modules/usage/reservations.service';
import { expectLedgerConsistent } from './utils/ledger-checks';
import { buildService, startService } from './utils/service-process';
import type { ServiceProcess } from './utils/service-process';
import { llmPrice } from './utils/sse';
import { ADMIN, ADMIN_KEY, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';
import { createTestDatabase } from './utils/test-database';

/**
 * A streamed call whose host is killed mid-stream (SIGKILL: no settle, no release) is charged, when its hold
 * expires, what it had delivered at its last extension: the chunks the client received are paid for, up to
 * one step (256 output tokens on the stand-in model) at most, never more than was delivered. Before, the
 * expiry gave the whole hold back and the stream was free. A real process streams and is killed; an
 * in-process instance on the same database (its clock past the hold's expiry) runs the sweep.
 */
describe('a streamed call killed mid-stream', () => {
  beforeAll(() => buildService(), 180_000);

  it('is charged at its hold expiry what it delivered up to the last extension; a replay of its key never runs again', async () => {
    const database = await createTestDatabase({ onDisk: true });
    const env = database.url ? { DATABASE_URL: database.url } : { DATA_DIR: database.dataDir, DATABASE_URL: '' };
    let service: ServiceProcess | undefined;
    let app: TestApp | undefined;
    try {
      service = await startService({ ...env, ADMIN_API_KEY: ADMIN_KEY, JOBS_ENABLED: 'false', LLM_STREAM_CHUNK_MS: '20' });
      const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        fetch(`${service!.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...ADMIN, ...headers }, body: JSON.stringify(body) });
      expect((await post('/api/admin/organizations', { id: 'stream-kill', name: 'Stream kill', plan: 'enterprise' })).status).toBe(201);

      const prompt = 'tell me everything';
      const request = { prompt, maxTokens: 2000, stream: true };
      const res = await post('/api/llm/complete', request, { 'x-organization-id': 'stream-kill', 'idempotency-key': 'kill-mid-stream' });
      expect(res.status).toBe(200);
      // Read chunks until 60 have come (960 output tokens: the first hold's 256 and three extensions), kill the
      // host, then read what was already on the wire: D chunks in all reached the client.
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const chunksIn = () => (text.match(/^data: /gm) ?? []).length;
      let killed = false;
      for (;;) {
        const next = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (next.done) break;
        text += decoder.decode(next.value, { stream: true });
        if (!killed && chunksIn() >= 60) {
          killed = true;
          service.child.kill('SIGKILL');
        }
      }
      expect(killed).toBe(true);
      await service.exited;
      expect(text).not.toMatch(/^event: usage/m);
      const delivered = chunksIn() * 16;
      expect(delivered).toBeLessThan(2000);

      // The hold outlives its host; past its expiry (the longest a hold may run) the sweep ends it.
      const clock = new FakeClock(new Date(Date.now() + 2 * 3600_000));
      app = await startTestApp({ database, clock, config: { jobsEnabled: false } });
      const pending = await app.dataSource.query(`SELECT status, delivered_data FROM reservations WHERE organization_id = 'stream-kill'`);
      expect(pending).toEqual([{ status: 'pending', delivered_data: expect.objectContaining({ units: expect.objectContaining({ outputTokens: expect.any(Number) }) }) }]);
      expect(await app.app.get(ReservationsService).expireDue()).toBe(1);

      const events = (await app.dataSource.query(`SELECT credits::text AS credits, breakdown FROM usage_events WHERE organization_id = 'stream-kill'`)) as Array<{ credits: string; breakdown: { stopReason?: string; units: Record<string, { quantity: number }> } }>;
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event.breakdown.stopReason).toBe('hold_expired');
      const charged = event.breakdown.units.outputTokens.quantity;
      // What the client received, less at most one step: never more than delivered, never the stream for free.
      expect(charged).toBeLessThanOrEqual(delivered);
      expect(charged).toBeGreaterThanOrEqual(delivered - 256);
      expect(charged).toBeGreaterThanOrEqual(768);
      const input = event.breakdown.units.inputTokens.quantity;
      expect(input).toBeGreaterThan(0);
      expect(new Big(event.credits).eq(llmPrice(input, charged))).toBe(true);
      expect(await app.dataSource.query(`SELECT status FROM reservations WHERE organization_id = 'stream-kill'`)).toEqual([{ status: 'committed' }]);
      await expectLedgerConsistent(app.dataSource, 'stream-kill');
      // The event log says how it ended (the response is checked against the served OpenAPI document).
      const log = await app.http().get('/api/organizations/stream-kill/usage/events').set(ADMIN).expect(200);
      expect(JSON.stringify(log.body)).toContain('hold_expired');
      const csv = await app.http().get('/api/organizations/stream-kill/usage/events?format=csv').set(ADMIN).expect(200);
      expect(csv.text.split('\r\n')[0]).toMatch(/,stop_reason$/);
      expect(csv.text.split('\r\n')[1]).toMatch(/,hold_expired$/);

      // The same request again: the work is never run a second time for free (the key names the charged event).
      const replay = await app.http().post('/api/llm/complete').set(ADMIN).set('x-organization-id', 'stream-kill').set('idempotency-key', 'kill-mid-stream').send(request);
      expect(replay.status).toBe(409);
      expect(replay.body.error).toBe('IDEMPOTENCY_REPLAYED');
      expect(await app.dataSource.query(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = 'stream-kill'`)).toEqual([{ n: 1 }]);
    } finally {
      if (service && service.child.exitCode === null) service.child.kill('SIGKILL');
      await app?.close();
      await database.drop();
    }
  }, 240_000);
});
