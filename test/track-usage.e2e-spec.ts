import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { AiToolsService } from '../src/modules/ai-tools/ai-tools.service';
import { AsyncUsageBuffer } from '../src/modules/tracking/async-usage-buffer.service';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { expectLedgerConsistent, ledgerState } from './utils/ledger-checks';
import { createOrg as newOrg } from './utils/factories';

describe('@TrackUsage on the sample AI tool routes', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock, config: { asyncFlushIntervalMs: 60_000 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const createOrg = (plan = 'free'): Promise<string> => newOrg(t, plan, { prefix: 'tu' });
  const call = (path: string, orgId: string, body: Record<string, unknown> = {}) => t.http().post(path).set(ADMIN).set('X-Organization-Id', orgId).send(body);

  it('charges exactly the SPEC formula and reports the usage in the body and headers', async () => {
    const id = await createOrg();
    const res = await call('/api/structuring/diagnose', id, { complexity: 2.0, echo: true, inputText: 'hello' }).set('X-User-Id', 'alice').expect(200);
    expect(res.body).toMatchObject({
      tool: 'structuring_diagnose',
      output: { summary: 'structuring_diagnose processed 5 characters' },
      usage: { eventType: 'structuring_diagnose', creditsConsumed: 25, remainingCredits: 75, overageCredits: 0, warnings: [], mode: 'sync' },
    });
    expect(res.headers['x-credits-consumed']).toBe('25');
    expect(res.headers['x-credits-remaining']).toBe('75');
    const [row] = await t.dataSource.query(`SELECT user_id, credits::text, endpoint FROM usage_events WHERE id = $1`, [res.body.usage.eventId]);
    expect(row).toEqual({ user_id: 'alice', credits: '25.000000', endpoint: '/api/structuring/diagnose' });
    // The same input gives the same stand-in output.
    const again = await call('/api/structuring/diagnose', id, { complexity: 2.0, echo: true, inputText: 'hello' }).expect(200);
    expect(again.body.output).toEqual(res.body.output);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('answers 402 without running the handler when credits are short', async () => {
    const id = await createOrg();
    await call('/api/solutioning/hyper-canvas', id, { complexity: 3 }).expect(200); // 60
    await call('/api/solutioning/hyper-canvas', id, { complexity: 1.5 }).expect(200); // 30
    const run = jest.spyOn(t.app.get(AiToolsService), 'run');
    const before = await ledgerState(t.dataSource, id);
    const res = await call('/api/visuals/sketch', id, {}).expect(402);
    expect(res.body).toMatchObject({ error: 'CREDITS_EXHAUSTED', details: { required: 12, remaining: 10 } });
    expect(run).not.toHaveBeenCalled();
    run.mockRestore();
    expect(await ledgerState(t.dataSource, id)).toEqual(before);
  });

  it('charges nothing when the handler throws, and the client gets the handler error', async () => {
    const id = await createOrg();
    const before = await ledgerState(t.dataSource, id);
    const res = await call('/api/visuals/planning', id, { simulateFailure: true }).expect(503);
    expect(res.body).toMatchObject({ error: 'SERVICE_UNAVAILABLE', message: expect.stringMatching(/simulated/) });
    const after = await ledgerState(t.dataSource, id);
    expect(after.events).toEqual(before.events);
    expect(after.reserved.n).toBe(0);
    expect(Number(after.balances.consumed)).toBe(0);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM reservations WHERE organization_id = $1 AND status = 'released'`, [id]);
    expect(n).toBe(1);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('is idempotent with Idempotency-Key: a retry gets the first answer back, the handler does not run again', async () => {
    const id = await createOrg();
    const first = await call('/api/visuals/planning', id, {}).set('Idempotency-Key', 'tool-1').expect(200);
    const run = jest.spyOn(t.app.get(AiToolsService), 'run');
    const retry = await call('/api/visuals/planning', id, {}).set('Idempotency-Key', 'tool-1').expect(200);
    expect(run).not.toHaveBeenCalled();
    run.mockRestore();
    expect(first.body.usage.creditsConsumed).toBe(8);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['x-credits-consumed']).toBe('8');
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(1);
  });

  it('a retry after a failed call is charged (the released hold frees its key)', async () => {
    const id = await createOrg();
    await call('/api/visuals/planning', id, { simulateFailure: true }).set('Idempotency-Key', 'retry-k').expect(503);
    const retry = await call('/api/visuals/planning', id, {}).set('Idempotency-Key', 'retry-k').expect(200);
    expect(retry.body.usage).toMatchObject({ creditsConsumed: 8, mode: 'sync' });
    expect(retry.body.usage.duplicate).toBeUndefined();
    const again = await call('/api/visuals/planning', id, {}).set('Idempotency-Key', 'retry-k').expect(200);
    expect(again.body).toEqual(retry.body);
    expect((await ledgerState(t.dataSource, id)).events.n).toBe(1);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('a retry meets the hold of an attempt that died before committing: in progress until the hold expires, then it runs and is charged once', async () => {
    const id = await createOrg();
    // The first attempt reserved, then its process died: the hold is pending under the key.
    await t.http().post(`/api/organizations/${id}/usage/reservations`).set(ADMIN).set('Idempotency-Key', 'died').send({ eventType: 'visuals_planning', eventData: {}, ttlSeconds: 60 }).expect(201);
    const early = await call('/api/visuals/planning', id, {}).set('Idempotency-Key', 'died').expect(409);
    expect(early.body.error).toBe('IDEMPOTENCY_IN_PROGRESS');
    expect(early.headers['retry-after']).toBe('60');
    clock.advance(61_000);
    const retry = await call('/api/visuals/planning', id, {}).set('Idempotency-Key', 'died').expect(200);
    expect(retry.body.usage).toMatchObject({ creditsConsumed: 8 });
    const state = await ledgerState(t.dataSource, id);
    expect(state.events.n).toBe(1);
    expect(state.reserved.n).toBe(0);
    await expectLedgerConsistent(t.dataSource, id);
  });

  it('needs an organization: 400 without X-Organization-Id, 404 for an unknown one, 401 without a key', async () => {
    await t.http().post('/api/visuals/planning').set(ADMIN).send({}).expect(400);
    const res = await call('/api/visuals/planning', 'ghost', {}).expect(404);
    expect(res.body.error).toBe('ORGANIZATION_NOT_FOUND');
    await t.http().post('/api/visuals/planning').set('X-Organization-Id', 'ghost').send({}).expect(401);
  });

  it('rejects bad pricing input before the handler runs', async () => {
    const id = await createOrg();
    const run = jest.spyOn(t.app.get(AiToolsService), 'run');
    await call('/api/structuring/diagnose', id, { complexity: -1 }).expect(400);
    await call('/api/structuring/diagnose', id, { inputText: 'x'.repeat(17 * 1024) }).expect(413);
    expect(run).not.toHaveBeenCalled();
    run.mockRestore();
  });

  it('has a route for every seeded event type', async () => {
    const doc = await t.http().get('/api/docs-json').expect(200);
    const paths = Object.keys(doc.body.paths);
    for (const p of ['/api/structuring/diagnose', '/api/structuring/generate-solution', '/api/visuals/planning', '/api/visuals/sketch', '/api/solutioning/image-analysis', '/api/solutioning/ai-enhance', '/api/solutioning/structure-solution', '/api/solutioning/node-stack', '/api/solutioning/formatting', '/api/solutioning/hyper-canvas', '/api/push/structuring-to-visuals', '/api/push/visuals-to-solutioning', '/api/push/solutioning-to-sow', '/api/push/sow-to-loe', '/api/export/pdf']) {
      expect(paths).toContain(p);
    }
  });

  describe('asynchronous tracking (the push routes)', () => {
    it('accepts at once, writes on flush, enforces when written: what does not fit is kept as refused, never charged', async () => {
      const id = await createOrg();
      await call('/api/solutioning/hyper-canvas', id, { complexity: 3 }).expect(200); // 60
      await call('/api/solutioning/hyper-canvas', id, { complexity: 2 }).expect(200); // 40: allowance gone
      const buffer = t.app.get(AsyncUsageBuffer);
      const responses = await Promise.all(Array.from({ length: 25 }, () => call('/api/push/sow-to-loe', id, { payload: 'x' })));
      expect(responses.every((r) => r.status === 200 && r.body.usage.mode === 'async' && r.body.usage.creditsConsumed === 1)).toBe(true);
      expect((await ledgerState(t.dataSource, id)).events.n).toBe(2);
      expect(await buffer.pending()).toBe(25);
      await buffer.flush();
      const state = await ledgerState(t.dataSource, id);
      // The hard cap holds on the asynchronous path too: nothing past the allowance, no overage at $0.
      expect(state.events.n).toBe(2);
      expect(Number(state.balances.consumed)).toBe(100);
      expect(Number(state.balances.overage_used)).toBe(0);
      await expectLedgerConsistent(t.dataSource, id);
      // Nothing lost: each refused event is kept, with its price and why.
      const refused = await t.dataSource.query(`SELECT event_type, credits::text AS credits, error, source FROM refused_events WHERE organization_id = $1`, [id]);
      expect(refused).toHaveLength(25);
      expect(refused.every((r: Record<string, string>) => r.event_type === 'push_sow_to_loe' && r.credits === '1.000000' && r.error === 'CREDITS_EXHAUSTED' && r.source === 'async')).toBe(true);
      // The organization and the operator can see them: the event log and one notification for the period.
      const log = await t.http().get(`/api/organizations/${id}/usage/events?status=refused&limit=100`).set(ADMIN).expect(200);
      expect(log.body.items).toHaveLength(25);
      expect(log.body.items[0]).toMatchObject({ eventType: 'push_sow_to_loe', status: 'refused', error: 'CREDITS_EXHAUSTED', credits: 1 });
      // Refused events are listed as JSON only; an unknown status is refused too.
      const csv = await t.http().get(`/api/organizations/${id}/usage/events?status=refused&format=csv`).set(ADMIN).expect(400);
      expect(csv.body).toMatchObject({ error: 'VALIDATION_FAILED', details: { fields: { status: [expect.any(String)] } } });
      await t.http().get(`/api/organizations/${id}/usage/events?status=lost`).set(ADMIN).expect(400);
      const notes = await t.http().get(`/api/organizations/${id}/notifications`).set(ADMIN).expect(200);
      expect(notes.body.items.filter((n: { type: string }) => n.type === 'async_event_refused')).toHaveLength(1);
    });

    it('an unknown organization fails before the handler', async () => {
      await call('/api/push/sow-to-loe', 'ghost', {}).expect(404);
    });
  });
});

describe('members behind X-User-Id on tracked routes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'team-org', name: 'Team', plan: 'professional' }).expect(201);
    await t.http().post('/api/admin/organizations/team-org/members').set(ADMIN).send({ userId: 'ann', role: 'member' }).expect(201);
    await t.http().post('/api/admin/organizations/team-org/members').set(ADMIN).send({ userId: 'vic', role: 'viewer' }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
  });
  const call = (user: string, path = '/api/visuals/planning') => t.http().post(path).set(ADMIN).set('X-Organization-Id', 'team-org').set('X-User-Id', user).send({});

  it('a member tracks; a stranger is 403 USER_NOT_MEMBER; a viewer may not track; nothing is charged for refusals', async () => {
    await call('ann').expect(200);
    const stranger = await call('mallory').expect(403);
    expect(stranger.body.error).toBe('USER_NOT_MEMBER');
    const viewer = await call('vic').expect(403);
    expect(viewer.body.error).toBe('FORBIDDEN');
    await call('mallory', '/api/push/sow-to-loe').expect(403);
    const body = await t.http().post('/api/organizations/team-org/usage/events').set(ADMIN).send({ eventType: 'visuals_planning', userId: 'mallory' }).expect(403);
    expect(body.body.error).toBe('USER_NOT_MEMBER');
    expect((await ledgerState(t.dataSource, 'team-org')).events.n).toBe(1);
  });
});
