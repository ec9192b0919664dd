import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../src/common/clock/clock';
import { WebhookDispatcher } from '../src/modules/webhooks/webhook-dispatcher.service';
import { verifyWebhookSignature } from '../src/modules/webhooks/utils/webhook-signature';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { createTestDatabase } from './utils/test-database';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A local receiver that can be stopped and started again on the same port. */
class Receiver {
  received: Received[] = [];
  private server?: Server;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
    this.server = undefined;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }
}

describe('webhooks', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  const receiver = new Receiver();

  beforeAll(async () => {
    t = await startTestApp({ clock });
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
    await t?.close();
  });

  const crossEighty = (orgId: string) =>
    t.http().post(`/api/organizations/${orgId}/usage/events`).set(ADMIN).send({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201)
      .then(() => t.http().post(`/api/organizations/${orgId}/usage/events`).set(ADMIN).send({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 1 } }).expect(201));

  it('delivers each threshold crossing after commit, signed with the organization secret', async () => {
    const org = await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'hooked', name: 'Hooked', plan: 'free', webhookUrl: receiver.url }).expect(201);
    const secret: string = org.body.webhookSecret;
    expect(secret).toMatch(/^whsec_/);
    await crossEighty('hooked'); // 60 then 20: 80 of 100
    expect(await t.app.get(WebhookDispatcher).runOnce()).toBe(1);
    expect(receiver.received).toHaveLength(1);
    const [hit] = receiver.received;
    expect(verifyWebhookSignature(secret, hit.body, hit.headers['x-signature'] as string)).toBe(true);
    expect(verifyWebhookSignature('whsec_wrong', hit.body, hit.headers['x-signature'] as string)).toBe(false);
    const body = JSON.parse(hit.body);
    expect(body).toMatchObject({ event: 'usage.threshold_crossed', data: { threshold: 0.8, used: 80, limit: 100, organizationId: 'hooked' } });
    expect(hit.headers['x-webhook-id']).toBe(body.id);
    // Delivered once: nothing more to send.
    expect(await t.app.get(WebhookDispatcher).runOnce()).toBe(0);
    const list = await t.http().get('/api/organizations/hooked/webhooks/deliveries').set(ADMIN).expect(200);
    expect(list.body.items).toMatchObject([{ status: 'delivered', attempts: 1, attemptLog: [{ attempt: 1, statusCode: 204 }] }]);
  });

  it('retries with backoff after the receiver was down', async () => {
    const down = new Receiver();
    await down.start();
    const port = down.port;
    await down.stop();
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'flaky', name: 'Flaky', plan: 'free', webhookUrl: `http://127.0.0.1:${port}/hooks` }).expect(201);
    await crossEighty('flaky');
    const dispatcher = t.app.get(WebhookDispatcher);
    expect(await dispatcher.runOnce()).toBe(1); // attempt 1 fails: connection refused
    clock.advance(1000);
    expect(await dispatcher.runOnce()).toBe(0); // not due before 2 s
    clock.advance(1500);
    expect(await dispatcher.runOnce()).toBe(1); // attempt 2 fails too
    await down.start(port);
    clock.advance(4500);
    expect(await dispatcher.runOnce()).toBe(1); // attempt 3 arrives
    expect(down.received).toHaveLength(1);
    await down.stop();
    const list = await t.http().get('/api/organizations/flaky/webhooks/deliveries').set(ADMIN).expect(200);
    expect(list.body.items[0]).toMatchObject({ status: 'delivered', attempts: 3 });
    expect(list.body.items[0].attemptLog.map((a: { statusCode: number | null }) => a.statusCode)).toEqual([null, null, 204]);
  });

  it('sends nothing for organizations without a webhook URL', async () => {
    await t.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'quiet', name: 'Quiet', plan: 'free' }).expect(201);
    await crossEighty('quiet');
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE organization_id = 'quiet'`);
    expect(n).toBe(0);
  });
});

describe('the webhook outbox survives a restart', () => {
  it('a delivery enqueued before a restart is sent after it', async () => {
    const database = await createTestDatabase({ onDisk: true });
    const clock = new FakeClock('2026-11-15T12:00:00.000Z');
    const receiver = new Receiver();
    await receiver.start();
    const port = receiver.port;
    await receiver.stop();
    try {
      const first = await startTestApp({ database, clock });
      await first.http().post('/api/admin/organizations').set(ADMIN).send({ id: 'restart', name: 'R', plan: 'free', webhookUrl: `http://127.0.0.1:${port}/h` }).expect(201);
      await first.http().post('/api/organizations/restart/usage/events').set(ADMIN).send({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 3 } }).expect(201);
      await first.http().post('/api/organizations/restart/usage/events').set(ADMIN).send({ eventType: 'solutioning_hyper_canvas', eventData: { complexity: 1 } }).expect(201);
      expect(await first.app.get(WebhookDispatcher).runOnce()).toBe(1); // fails: receiver down
      await first.app.close();
      await receiver.start(port);
      clock.advance(10_000);
      const second = await startTestApp({ database, clock });
      expect(await second.app.get(WebhookDispatcher).runOnce()).toBe(1);
      expect(receiver.received).toHaveLength(1);
      await second.app.close();
    } finally {
      await receiver.stop();
      await database.drop();
    }
  });
});
