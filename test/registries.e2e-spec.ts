import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { FakeClock } from '../src/common/clock/clock';
import { EventRegistry } from '../src/modules/events/event-registry.service';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES, TestDatabase } from './utils/test-database';

const newEvent = {
  eventType: 'custom_summarize',
  displayName: 'Custom: Summarize',
  category: 'ai_analysis',
  baseCredits: 4.5,
  multipliers: { complexity: { min: 1, max: 2 }, features: { cite: 1.25 } },
  limitKey: 'aiCallsPerMonth',
};

describe('event and plan registries', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /api/admin/config lists every definition keyed, with cache stats', async () => {
    const res = await t.http().get('/api/admin/config').set(ADMIN).expect(200);
    expect(Object.keys(res.body.events)).toHaveLength(16);
    expect(Object.keys(res.body.plans)).toEqual(['free', 'starter', 'professional', 'enterprise']);
    expect(res.body.events.structuring_diagnose).toMatchObject({
      eventType: 'structuring_diagnose',
      baseCredits: 10,
      multipliers: { complexity: { min: 1, max: 2.5 }, features: { echo: 5, traceback: 3 } },
      limitKey: 'aiCallsPerMonth',
      version: 1,
      isActive: true,
    });
    expect(res.body.plans.professional.features).toEqual(['Advanced AI', 'Priority support', 'Custom branding']);
    expect(res.body.cache.events).toMatchObject({ entries: 16, ttlSeconds: 300 });
  });

  it('POST /api/admin/config updates an event (a merge) and makes a new version', async () => {
    const res = await t.http().post('/api/admin/config').set(ADMIN)
      .send({ type: 'event', action: 'update', data: { eventType: 'structuring_diagnose', config: { baseCredits: 12 } } })
      .expect(200);
    expect(res.body).toMatchObject({ success: true, definition: { eventType: 'structuring_diagnose', baseCredits: 12, version: 2 } });
    // The rest of the definition survived the merge.
    expect(res.body.definition.multipliers.features).toEqual({ echo: 5, traceback: 3 });
    const got = await t.http().get('/api/admin/events/structuring_diagnose').set(ADMIN).expect(200);
    expect(got.body.baseCredits).toBe(12);
  });

  it('POST /api/admin/config creates and deletes (deactivates) a plan', async () => {
    await t.http().post('/api/admin/config').set(ADMIN)
      .send({ type: 'plan', action: 'create', data: { name: 'team', config: { displayName: 'Team Plan', monthlyCredits: 3000, pricing: { monthly: 29, annual: 290 }, overageRate: 0.015 } } })
      .expect(200);
    let plans = await t.http().get('/api/plans').expect(200);
    expect(plans.body.items.map((p: { name: string }) => p.name)).toEqual(['free', 'starter', 'team', 'professional', 'enterprise']);
    await t.http().post('/api/admin/config').set(ADMIN).send({ type: 'plan', action: 'delete', data: { name: 'team' } }).expect(200);
    plans = await t.http().get('/api/plans').expect(200);
    expect(plans.body.items.map((p: { name: string }) => p.name)).not.toContain('team');
    const team = await t.http().get('/api/admin/plans/team').set(ADMIN).expect(200);
    expect(team.body).toMatchObject({ isActive: false, version: 2 });
  });

  it('POST /api/admin/config cache actions', async () => {
    for (const action of ['stats', 'refresh', 'refresh-all', 'clear']) {
      const res = await t.http().post('/api/admin/config').set(ADMIN).send({ type: 'cache', action }).expect(200);
      expect(res.body.cache.events.entries).toBe(16);
    }
    await t.http().post('/api/admin/config').set(ADMIN).send({ type: 'cache', action: 'explode' }).expect(400);
    const bad = await t.http().post('/api/admin/config').set(ADMIN).send({ type: 'event', action: 'refresh' }).expect(400);
    expect(bad.body.details.fields.action).toBeDefined();
  });

  it('filters public plans by price, sorted by price', async () => {
    const res = await t.http().get('/api/plans?minPrice=10&maxPrice=50').expect(200);
    expect(res.body.items.map((p: { name: string }) => p.name)).toEqual(['starter', 'professional']);
    await t.http().get('/api/plans?minPrice=abc').expect(400);
  });

  it('REST: create, conflict, patch, put, history, rollback, deactivate', async () => {
    const created = await t.http().post('/api/admin/events').set(ADMIN).send(newEvent).expect(201);
    expect(created.body).toMatchObject({ ...newEvent, version: 1, isActive: true, metadata: {}, endpoint: null, description: '' });
    const dup = await t.http().post('/api/admin/events').set(ADMIN).send(newEvent).expect(409);
    expect(dup.body.error).toBe('ALREADY_EXISTS');

    await t.http().patch('/api/admin/events/custom_summarize').set(ADMIN).send({ baseCredits: 6 }).expect(200);
    const put = await t.http().put('/api/admin/events/custom_summarize').set(ADMIN).send({ ...newEvent, baseCredits: 7, multipliers: null }).expect(200);
    expect(put.body).toMatchObject({ baseCredits: 7, version: 3, multipliers: { complexity: null, features: {} } });

    // An identical change writes no version.
    await t.http().put('/api/admin/events/custom_summarize').set(ADMIN).send({ ...newEvent, baseCredits: 7, multipliers: null }).expect(200);

    const history = await t.http().get('/api/admin/events/custom_summarize/history').set(ADMIN).expect(200);
    expect(history.body.items.map((v: { version: number; action: string }) => [v.version, v.action])).toEqual([[3, 'update'], [2, 'update'], [1, 'create']]);
    expect(history.body.items[0]).toMatchObject({ actor: 'admin', before: { baseCredits: 6 }, after: { baseCredits: 7 } });

    const rolled = await t.http().post('/api/admin/events/custom_summarize/rollback').set(ADMIN).send({ version: 1 }).expect(200);
    expect(rolled.body).toMatchObject({ baseCredits: 4.5, version: 4, multipliers: newEvent.multipliers });
    const afterRollback = await t.http().get('/api/admin/events/custom_summarize/history').set(ADMIN).expect(200);
    expect(afterRollback.body.items[0]).toMatchObject({ version: 4, action: 'rollback' });

    await t.http().post('/api/admin/events/custom_summarize/rollback').set(ADMIN).send({ version: 99 }).expect(404);
    await t.http().post('/api/admin/events/custom_summarize/rollback').set(ADMIN).send({ version: 'one' }).expect(400);

    const deleted = await t.http().delete('/api/admin/events/custom_summarize').set(ADMIN).expect(200);
    expect(deleted.body).toMatchObject({ isActive: false, version: 5 });
    const list = await t.http().get('/api/admin/events?category=ai_analysis').set(ADMIN).expect(200);
    expect(list.body.items.map((e: { eventType: string }) => e.eventType)).not.toContain('custom_summarize');
    const all = await t.http().get('/api/admin/events?category=ai_analysis&includeInactive=true').set(ADMIN).expect(200);
    expect(all.body.items.map((e: { eventType: string }) => e.eventType)).toContain('custom_summarize');
    // Rolling back to an active version reactivates it.
    const back = await t.http().post('/api/admin/events/custom_summarize/rollback').set(ADMIN).send({ version: 4 }).expect(200);
    expect(back.body).toMatchObject({ isActive: true, version: 6 });
  });

  it('404s for unknown definitions', async () => {
    const res = await t.http().get('/api/admin/events/nope_nope').set(ADMIN).expect(404);
    expect(res.body).toMatchObject({ error: 'EVENT_TYPE_NOT_FOUND' });
    await t.http().patch('/api/admin/plans/nope').set(ADMIN).send({ monthlyCredits: 1 }).expect(404);
    await t.http().get('/api/admin/plans/nope/history').set(ADMIN).expect(404);
  });

  describe('invalid changes are rejected with field messages and change nothing', () => {
    const cases: Array<[string, 'events' | 'plans', string, Record<string, unknown>, string]> = [
      ['negative baseCredits', 'events', 'visuals_sketch', { baseCredits: -1 }, 'baseCredits'],
      ['min > max', 'events', 'visuals_sketch', { multipliers: { complexity: { min: 3, max: 2 } } }, 'multipliers.complexity'],
      ['complexity above 10', 'events', 'visuals_sketch', { multipliers: { complexity: { min: 1, max: 11 } } }, 'multipliers.complexity.max'],
      ['an unknown field', 'events', 'visuals_sketch', { surprise: true }, 'surprise'],
      ['a negative feature bonus', 'events', 'visuals_sketch', { multipliers: { features: { hd: -2 } } }, 'multipliers.features.hd'],
      ['a limit key that is not a name', 'events', 'visuals_sketch', { limitKey: 'galaxies per month' }, 'limitKey'],
      ['three decimals', 'events', 'visuals_sketch', { baseCredits: 1.005 }, 'baseCredits'],
      ['a bad category', 'events', 'visuals_sketch', { category: 'AI Visual' }, 'category'],
      ['a fractional allowance', 'plans', 'starter', { monthlyCredits: 10.5 }, 'monthlyCredits'],
      ['a negative price', 'plans', 'starter', { pricing: { monthly: -1, annual: 190 } }, 'pricing.monthly'],
      ['a threshold above 1', 'plans', 'starter', { warningThresholds: [0.5, 1.5] }, 'warningThresholds[1]'],
      ['a limit that is not a name', 'plans', 'starter', { limits: { 'galaxies!': 3 } }, 'limits.galaxies!'],
      ['a string overage rate', 'plans', 'starter', { overageRate: 'cheap' }, 'overageRate'],
    ];

    it.each(cases)('%s', async (_name, registry, key, patch, field) => {
      const before = await t.http().get(`/api/admin/${registry}/${key}`).set(ADMIN).expect(200);
      const res = await t.http().patch(`/api/admin/${registry}/${key}`).set(ADMIN).send(patch).expect(400);
      expect(res.body.error).toBe('VALIDATION_FAILED');
      expect(res.body.details.fields[field]).toEqual([expect.any(String)]);
      const put = await t.http().put(`/api/admin/${registry}/${key}`).set(ADMIN).send({ ...before.body, ...patch }).expect(400);
      expect(put.body.details.fields[field]).toBeDefined();
      const viaConfig = await t.http().post('/api/admin/config').set(ADMIN)
        .send({ type: registry === 'events' ? 'event' : 'plan', action: 'update', data: { [registry === 'events' ? 'eventType' : 'name']: key, config: patch } })
        .expect(400);
      expect(viaConfig.body.details.fields[field]).toBeDefined();
      const after = await t.http().get(`/api/admin/${registry}/${key}`).set(ADMIN).expect(200);
      expect(after.body).toEqual(before.body);
    });

    it('reports several bad fields at once', async () => {
      const res = await t.http().post('/api/admin/events').set(ADMIN).send({ eventType: 'Bad Type', baseCredits: 'x', extra: 1 }).expect(400);
      expect(Object.keys(res.body.details.fields).sort()).toEqual(['baseCredits', 'category', 'displayName', 'eventType', 'extra']);
      await t.http().get('/api/admin/events/Bad Type').set(ADMIN).expect(404);
    });

    it('refuses a body key that differs from the path', async () => {
      const res = await t.http().put('/api/admin/events/visuals_sketch').set(ADMIN).send({ eventType: 'visuals_planning' }).expect(400);
      expect(res.body.details.fields.eventType).toBeDefined();
    });
  });

  describe('cache', () => {
    it('serves a cached definition without touching the database', async () => {
      const registry = t.app.get(EventRegistry);
      const query = jest.spyOn(t.dataSource, 'query');
      const runner = jest.spyOn(t.dataSource, 'createQueryRunner');
      const before = registry.stats().hits;
      for (let i = 0; i < 1000; i++) expect((await registry.find('visuals_planning'))?.config.baseCredits).toBe(8);
      expect(query).not.toHaveBeenCalled();
      expect(runner).not.toHaveBeenCalled();
      expect(registry.stats().hits - before).toBe(1000);
      query.mockRestore();
      runner.mockRestore();
    });

    it('after the TTL serves the last good value at once and refreshes behind', async () => {
      const registry = t.app.get(EventRegistry);
      // A change straight in the database (another tool, a lost message): only the TTL refresh sees it.
      await t.dataSource.query(`UPDATE event_definitions SET config = jsonb_set(config, '{baseCredits}', '9'), version = version + 1 WHERE event_type = 'visuals_planning'`);
      expect(registry.get('visuals_planning')?.config.baseCredits).toBe(8);
      const refreshes = registry.stats().refreshes;
      clock.advance(301_000);
      // Expired: the read returns the old value without waiting, and starts one refresh.
      expect(registry.get('visuals_planning')?.config.baseCredits).toBe(8);
      expect(registry.get('visuals_planning')?.config.baseCredits).toBe(8);
      await registry.refresh(); // joins the refresh in flight
      expect(registry.stats().refreshes).toBe(refreshes + 1);
      expect(registry.get('visuals_planning')?.config.baseCredits).toBe(9);
    });

    it('REST cache endpoints', async () => {
      const stats = await t.http().get('/api/admin/cache').set(ADMIN).expect(200);
      expect(stats.body.events).toMatchObject({ registry: 'events', ttlSeconds: 300, entries: 17 });
      expect(stats.body.events).toHaveProperty('hits');
      expect(stats.body.events).toHaveProperty('invalidationsReceived');
      await t.http().post('/api/admin/cache/refresh').set(ADMIN).send({ registry: 'events', key: 'visuals_planning' }).expect(200);
      await t.http().post('/api/admin/cache/refresh').set(ADMIN).send({ registry: 'nope' }).expect(400);
      const cleared = await t.http().delete('/api/admin/cache').set(ADMIN).expect(200);
      expect(cleared.body.plans.entries).toBe(5);
    });
  });
});

const describeOnPostgres = ON_POSTGRES ? describe : describe.skip;

describeOnPostgres('two instances on one PostgreSQL database', () => {
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  it.each([
    ['PostgreSQL LISTEN/NOTIFY', undefined],
    ['Redis pub/sub', process.env.REDIS_URL],
  ])('a change through A is served by B within 1 s (%s)', async (_name, redisUrl) => {
    if (_name.startsWith('Redis') && !redisUrl) return;
    await a?.close();
    await b?.close();
    await database?.drop();
    database = await createTestDatabase();
    a = await startTestApp({ database, config: { redisUrl } });
    b = await startTestApp({ database, config: { redisUrl } });
    const registryB = b.app.get(EventRegistry);
    expect(registryB.get('export_pdf')?.config.baseCredits).toBe(2);
    const started = Date.now();
    await a.http().patch('/api/admin/events/export_pdf').set(ADMIN).send({ baseCredits: 3 }).expect(200);
    while (registryB.get('export_pdf')?.config.baseCredits !== 3) {
      if (Date.now() - started > 1000) throw new Error('B did not see the change within 1 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(registryB.stats().invalidationsReceived).toBeGreaterThanOrEqual(1);
    const fromB = await b.http().get('/api/admin/events/export_pdf').set(ADMIN).expect(200);
    expect(fromB.body).toMatchObject({ baseCredits: 3, version: 2 });
  });
});
