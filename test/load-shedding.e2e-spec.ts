import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';

/** Past MAX_IN_FLIGHT_REQUESTS the service answers 503 OVERLOADED at once instead of queueing. */
describe('load shedding', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ config: { maxInFlightRequests: 2 } });
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'busy', name: 'Busy', plan: 'free' }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  const inFlight = async () => Number(/^http_requests_in_flight (\d+)/m.exec((await t.http().get('/metrics').expect(200)).text)?.[1]);

  it('turns the request over capacity away, keeps metrics answering, and recovers', async () => {
    // Hold the organizations table: requests that read it stay in flight until the lock goes.
    const holder = t.dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query('LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE');
    let first: Promise<{ status: number }> | undefined;
    let second: Promise<{ status: number }> | undefined;
    try {
      first = t.http().get('/api/organizations/busy/usage').set(ADMIN).then((r) => r);
      second = t.http().get('/api/organizations/busy/usage').set(ADMIN).then((r) => r);
      for (let i = 0; (await inFlight()) < 2; i++) {
        if (i > 200) throw new Error('the two requests never got in flight');
        await new Promise((r) => setImmediate(r));
      }
      const shed = await t.http().get('/api/plans').expect(503);
      expect(shed.body).toEqual({ statusCode: 503, error: 'OVERLOADED', message: expect.any(String) });
      expect(shed.headers['retry-after']).toBe('1');
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    expect((await first!).status).toBe(200);
    expect((await second!).status).toBe(200);
    expect(await inFlight()).toBe(0);
    await t.http().get('/api/plans').expect(200);
  });

  it('a client that goes away frees its slot', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const url = await t.app.getUrl();
    const holder = t.dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query('LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE');
    const aborts = [new AbortController(), new AbortController()];
    const pending = aborts.map((a) => fetch(`${url.replace('[::1]', '127.0.0.1')}/api/organizations/busy/usage`, { headers: ADMIN, signal: a.signal }).catch(() => undefined));
    try {
      for (let i = 0; (await inFlight()) < 2; i++) {
        if (i > 500) throw new Error('the two requests never got in flight');
        await new Promise((r) => setImmediate(r));
      }
      for (const a of aborts) a.abort();
      await Promise.all(pending);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    for (let i = 0; (await inFlight()) > 0; i++) {
      if (i > 500) throw new Error(`slots leaked: ${await inFlight()} still in flight`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await t.http().get('/api/plans').expect(200);
  });
});
