import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../src/common/clock/clock';
import { IngestDrainer } from '../src/modules/ingest/ingest-drainer.service';
import { TrackUsage, UsageClient, UsageClientModule } from '../libs/nest-client/src';
import { expectLedgerConsistent, expectRunsConsistent, ledgerState } from './utils/ledger-checks';
import { ADMIN, startInstancePair } from './utils/test-app';
import type { InstancePair, TestApp } from './utils/test-app';
import * as factories from './utils/factories';
import { issueKey } from './utils/factories';
import type { ApiKeyScope } from '../src/common/auth/auth.decorators';
import { ON_POSTGRES } from './utils/test-database';

/**
 * Agent runs with nested budgets: a call with X-Run-Id is charged to the run and counts against it and every
 * ancestor, on every entry point (tracking, batches, reservations, both @TrackUsage), decided in the debit.
 * On PostgreSQL two app instances share the database, and the race runs across both.
 */

let hostCalls = 0;

@Controller('agent')
class AgentHostController {
  @Post('step')
  @HttpCode(200)
  @TrackUsage('push_sow_to_loe')
  step(@Body() body: { text?: string }) {
    hostCalls++;
    return { done: body.text ?? '' };
  }
}

describe('agent runs', () => {
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let a: TestApp;
  let b: TestApp;
  let pair: InstancePair | undefined;

  beforeAll(async () => {
    pair = await startInstancePair({ clock });
    ({ a, b } = pair);
  });
  afterAll(async () => {
    await pair?.close();
  });

  const createOrg = (plan = 'professional') => factories.createOrg(a, plan, { prefix: 'runs' });
  const createKey = async (org: string, scopes: ApiKeyScope[] = ['track', 'read']) => (await issueKey(a, org, scopes)).headers;
  const runs = (org: string) => `/api/organizations/${org}/runs`;
  async function run(org: string, body: Record<string, unknown> = {}, t: TestApp = a): Promise<{ id: string; path: string[] }> {
    return (await t.http().post(runs(org)).set(ADMIN).send(body).expect(201)).body;
  }
  const view = async (org: string, id: string) => (await a.http().get(`${runs(org)}/${id}`).set(ADMIN).expect(200)).body;
  const track = (t: TestApp, org: string, runId: string | undefined, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).set(runId ? { 'X-Run-Id': runId } : {}).set(headers).send(body);
  const hold = (t: TestApp, org: string, runId: string | undefined, body: Record<string, unknown>) =>
    t.http().post(`/api/organizations/${org}/usage/reservations`).set(ADMIN).set(runId ? { 'X-Run-Id': runId } : {}).send(body);
  const sow = { eventType: 'push_sow_to_loe' }; // 1 credit
  const diagnose = (complexity: number) => ({ eventType: 'structuring_diagnose', eventData: { complexity } }); // 10 × complexity

  describe('create and show', () => {
    it('a tree of runs: the parent spends what its children spend, each item by event type with units', async () => {
      const org = await createOrg();
      const key = await createKey(org);
      const created = await a.http().post(runs(org)).set(key).send({ budgetCredits: '100', label: 'planner', ttlSeconds: 3600 }).expect(201);
      expect(created.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        organizationId: org,
        parentRunId: null,
        path: [created.body.id],
        label: 'planner',
        status: 'open',
        closedReason: null,
        budgetCredits: '100',
        spentCredits: '0',
        heldCredits: '0',
        remainingCredits: '100',
        expiresAt: '2026-11-15T13:00:00.000Z',
        createdAt: '2026-11-15T12:00:00.000Z',
        closedAt: null,
        items: [],
        children: [],
      });
      const root = created.body.id as string;
      const child = (await a.http().post(runs(org)).set(key).send({ parentRunId: root, budgetCredits: 30.5, label: 'researcher' }).expect(201)).body;
      expect(child.path).toEqual([root, child.id]);
      await track(a, org, root, diagnose(2)).expect(201); // 20 to the root itself
      await track(b, org, child.id, diagnose(1)).expect(201); // 10 to the child
      await track(a, org, child.id, { eventType: 'llm_completion', eventData: { units: { inputTokens: 1000, outputTokens: 250 } } }).expect(201); // 0.5 + 2 + 2 = 4.5
      await track(a, org, undefined, diagnose(5)).expect(201); // no run: counted nowhere
      const parent = await view(org, root);
      expect(parent).toMatchObject({ spentCredits: '34.5', heldCredits: '0', remainingCredits: '65.5', items: [{ eventType: 'structuring_diagnose', events: 1, credits: '20', units: {} }] });
      expect(parent.children).toEqual([{ id: child.id, label: 'researcher', status: 'open', budgetCredits: '30.5', spentCredits: '14.5', heldCredits: '0' }]);
      const own = await view(org, child.id);
      expect(own.items).toEqual([
        { eventType: 'llm_completion', events: 1, credits: '4.5', units: { inputTokens: '1000', outputTokens: '250' } },
        { eventType: 'structuring_diagnose', events: 1, credits: '10', units: {} },
      ]);
      // A key with only `read` shows runs but cannot create one.
      const reader = await createKey(org, ['read']);
      await a.http().get(`${runs(org)}/${root}`).set(reader).expect(200);
      await a.http().post(runs(org)).set(reader).send({}).expect(403);
      await expectRunsConsistent(a.dataSource, org);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('lists the top-level runs newest first with their subtree spend and child count, one run\'s children, by status, a page at a time', async () => {
      const org = await createOrg();
      const readOnly = await createKey(org, ['read']);
      const first = await run(org, { budgetCredits: '50', label: 'first' });
      clock.advance(1000);
      const second = await run(org, { label: 'second' });
      const child = await run(org, { parentRunId: second.id, label: 'child' });
      await run(org, { parentRunId: second.id, label: 'child 2' });
      clock.set('2026-11-15T12:00:00.000Z'); // the other tests' time
      await track(a, org, child.id, diagnose(1)).expect(201); // 10, counted by the parent too
      await track(a, org, first.id, sow).expect(201); // 1
      await a.http().post(`${runs(org)}/${first.id}/close`).set(ADMIN).expect(200);
      const list = await a.http().get(runs(org)).set(readOnly).expect(200);
      expect(list.body).toEqual({
        items: [
          expect.objectContaining({ id: second.id, label: 'second', status: 'open', spentCredits: '10', heldCredits: '0', budgetCredits: null, remainingCredits: null, childRuns: 2, parentRunId: null }),
          expect.objectContaining({ id: first.id, label: 'first', status: 'closed', closedReason: 'closed', spentCredits: '1', budgetCredits: '50', remainingCredits: '49', childRuns: 0 }),
        ],
        nextCursor: null,
      });
      const children = await a.http().get(runs(org)).query({ parentRunId: second.id }).set(ADMIN).expect(200);
      expect(children.body.items.map((r: { label: string }) => r.label).sort()).toEqual(['child', 'child 2']);
      expect((await a.http().get(runs(org)).query({ status: 'open' }).set(ADMIN).expect(200)).body.items.map((r: { id: string }) => r.id)).toEqual([second.id]);
      // A page at a time: the cursor is the last run of the page.
      const page1 = await a.http().get(runs(org)).query({ limit: 1 }).set(ADMIN).expect(200);
      expect(page1.body).toMatchObject({ items: [{ id: second.id }], nextCursor: second.id });
      const page2 = await a.http().get(runs(org)).query({ limit: 1, before: page1.body.nextCursor }).set(ADMIN).expect(200);
      expect(page2.body).toMatchObject({ items: [{ id: first.id }], nextCursor: null });
      // Bad input is 400; another organization's run is not found; the list of another organization is empty.
      for (const query of [{ limit: 0 }, { limit: 201 }, { limit: 'x' }, { status: 'done' }, { parentRunId: 'nope' }, { before: '00000000-0000-4000-8000-000000000000' }, { other: 1 }]) {
        await a.http().get(runs(org)).query(query).set(ADMIN).expect(400);
      }
      const other = await createOrg();
      await a.http().get(runs(other)).query({ parentRunId: second.id }).set(ADMIN).expect(404);
      expect((await a.http().get(runs(other)).set(ADMIN).expect(200)).body).toEqual({ items: [], nextCursor: null });
      await a.http().get(runs('no-such-org')).set(ADMIN).expect(404);
    });

    it('bad input is 400 and writes nothing; the largest budget the bounds allow is taken, one micro-credit more is 422', async () => {
      const org = await createOrg();
      for (const body of [{ budgetCredits: -1 }, { budgetCredits: '1e3' }, { budgetCredits: '0.0000001' }, { budgetCredits: null }, { parentRunId: 'nope' }, { label: '' }, { ttlSeconds: 0 }, { ttlSeconds: 1.5 }, { extra: 1 }]) {
        const res = await a.http().post(runs(org)).set(ADMIN).send(body);
        expect({ body, status: res.status, error: res.body.error }).toEqual({ body, status: 400, error: 'VALIDATION_FAILED' });
      }
      await a.http().post(runs(org)).set(ADMIN).send({ parentRunId: '00000000-0000-4000-8000-000000000000' }).expect(404);
      const [{ n }] = await a.dataSource.query(`SELECT count(*)::int AS n FROM runs WHERE organization_id = $1`, [org]);
      expect(n).toBe(0);
      const largest = await run(org, { budgetCredits: '10000000000' });
      expect((await view(org, largest.id)).budgetCredits).toBe('10000000000');
      const past = await a.http().post(runs(org)).set(ADMIN).send({ budgetCredits: '10000000000.000001' }).expect(422);
      expect(past.body).toMatchObject({ error: 'AMOUNT_OUT_OF_BOUNDS', details: { bound: 'runBudgetCredits', max: 10_000_000_000 } });
      // Exact to the micro-credit: a budget of 0.000001 takes nothing of 1 credit.
      const tiny = await run(org, { budgetCredits: '0.000001' });
      expect((await track(a, org, tiny.id, sow).expect(402)).body.details).toMatchObject({ budgetCredits: '0.000001', usedCredits: '0', requiredCredits: '1' });
    });

    it('a retried create with the same Idempotency-Key answers the same run; another body under it is 409', async () => {
      const org = await createOrg();
      const first = await a.http().post(runs(org)).set(ADMIN).set('Idempotency-Key', 'run-1').send({ budgetCredits: 5 }).expect(201);
      const again = await b.http().post(runs(org)).set(ADMIN).set('Idempotency-Key', 'run-1').send({ budgetCredits: 5 }).expect(201);
      expect(again.body.id).toBe(first.body.id);
      await a.http().post(runs(org)).set(ADMIN).set('Idempotency-Key', 'run-1').send({ budgetCredits: 6 }).expect(409);
      const [{ n }] = await a.dataSource.query(`SELECT count(*)::int AS n FROM runs WHERE organization_id = $1`, [org]);
      expect(n).toBe(1);
    });

    it("another organization's run is not found: to show, to close, to charge; an unknown or malformed run id charges nothing", async () => {
      const org = await createOrg();
      const other = await createOrg();
      const otherKey = await createKey(other);
      const theirs = await run(org, { budgetCredits: 50 });
      await track(a, other, undefined, sow).expect(201); // the period's balance row exists: a refusal then leaves every figure as it was
      await a.http().get(`${runs(other)}/${theirs.id}`).set(otherKey).expect(404);
      await a.http().post(`${runs(other)}/${theirs.id}/close`).set(otherKey).expect(404);
      const before = await ledgerState(a.dataSource, other);
      for (const runId of [theirs.id, '00000000-0000-4000-8000-000000000000', 'not-a-run']) {
        const res = await a.http().post(`/api/organizations/${other}/usage/events`).set(otherKey).set('X-Run-Id', runId).send(sow);
        expect({ runId, status: res.status, error: res.body.error }).toEqual({ runId, status: 404, error: 'RUN_NOT_FOUND' });
        await a.http().post(`/api/organizations/${other}/usage/reservations`).set(otherKey).set('X-Run-Id', runId).send(sow).expect(404);
      }
      await a.http().post(runs(other)).set(otherKey).send({ parentRunId: theirs.id }).expect(404);
      expect(await ledgerState(a.dataSource, other)).toEqual(before);
      expect((await view(org, theirs.id)).spentCredits).toBe('0');
    });
  });

  describe('budgets', () => {
    it("past a budget: 402 RUN_BUDGET_EXCEEDED with the run's path; a child's larger budget never lets it pass its parent's", async () => {
      const org = await createOrg();
      const root = await run(org, { budgetCredits: 25 });
      const child = await run(org, { parentRunId: root.id, budgetCredits: 1000 });
      const grandchild = await run(org, { parentRunId: child.id });
      await track(a, org, grandchild.id, diagnose(2)).expect(201); // 20
      const before = await ledgerState(a.dataSource, org);
      const refused = await track(b, org, grandchild.id, diagnose(1)).expect(402); // 10 > 5 left at the root
      expect(refused.body).toMatchObject({
        error: 'RUN_BUDGET_EXCEEDED',
        details: { runId: grandchild.id, path: [root.id, child.id, grandchild.id], limitingRunId: root.id, budgetCredits: '25', usedCredits: '20', requiredCredits: '10' },
      });
      expect(await ledgerState(a.dataSource, org)).toEqual(before);
      await track(a, org, child.id, { events: [sow, sow, sow, sow, sow] }).expect(200); // 5: exactly the root's budget
      await track(a, org, root.id, sow).expect(402);
      expect(await view(org, root.id)).toMatchObject({ spentCredits: '25', remainingCredits: '0' });
      // The quote says the same without charging.
      const check = await a.http().post(`/api/organizations/${org}/usage/check`).set(ADMIN).set('X-Run-Id', child.id).send(sow).expect(200);
      expect(check.body).toMatchObject({ fits: false, reason: 'RUN_BUDGET_EXCEEDED' });
      await expectRunsConsistent(a.dataSource, org);
    });

    it('a batch with X-Run-Id: each event decided in order, as the ledger decides any batch', async () => {
      const org = await createOrg();
      const r = await run(org, { budgetCredits: 24 });
      const res = await track(a, org, r.id, { events: [diagnose(2), diagnose(1), sow, sow, sow, sow, sow] }).expect(200);
      // 20 fits, 10 does not (20 + 10 > 24), then four of 1 fit and the fifth does not.
      expect(res.body.results.map((x: { status: string; error?: { error: string } }) => x.error?.error ?? x.status)).toEqual([
        'accepted',
        'RUN_BUDGET_EXCEEDED',
        'accepted',
        'accepted',
        'accepted',
        'accepted',
        'RUN_BUDGET_EXCEEDED',
      ]);
      expect(await view(org, r.id)).toMatchObject({ spentCredits: '24', items: [{ eventType: 'push_sow_to_loe', events: 4 }, { eventType: 'structuring_diagnose', events: 1 }] });
      await expectRunsConsistent(a.dataSource, org);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('an asynchronous batch (Prefer: respond-async) keeps its run: applied later against the run, refusals on the receipt', async () => {
      const org = await createOrg();
      const r = await run(org, { budgetCredits: 3 });
      const accepted = await track(a, org, r.id, { events: [sow, sow, sow, sow] }, { Prefer: 'respond-async' }).expect(202);
      await a.app.get(IngestDrainer).drainAll();
      const receipt = await a.http().get(`/api/organizations/${org}/usage/receipts/${accepted.body.receiptId}`).set(ADMIN).expect(200);
      expect(receipt.body).toMatchObject({ status: 'applied', accepted: 3, refused: 1, refusals: [expect.objectContaining({ index: 3, error: 'RUN_BUDGET_EXCEEDED' })] });
      expect(await view(org, r.id)).toMatchObject({ spentCredits: '3', items: [{ eventType: 'push_sow_to_loe', events: 3 }] });
      await expectRunsConsistent(a.dataSource, org);
    });

    it('a hold counts against the run until it is settled; a commit names the run it was made under or none', async () => {
      const org = await createOrg();
      const r = await run(org, { budgetCredits: 30 });
      const other = await run(org, {});
      const h1 = (await hold(a, org, r.id, diagnose(2)).expect(201)).body; // 20 held
      expect(await view(org, r.id)).toMatchObject({ spentCredits: '0', heldCredits: '20', remainingCredits: '10' });
      await hold(b, org, r.id, diagnose(1.5)).expect(402); // 15 > 10 left
      const h2 = (await hold(b, org, r.id, diagnose(1)).expect(201)).body; // 10 held: 30 in all
      await track(a, org, r.id, sow).expect(402);
      // A commit carrying another run is refused before anything is written.
      await a.http().post(`/api/organizations/${org}/usage/reservations/${h1.reservationId}/commit`).set(ADMIN).set('X-Run-Id', other.id).send({}).expect(400);
      await b.http().post(`/api/organizations/${org}/usage/reservations/${h1.reservationId}/commit`).set(ADMIN).set('X-Run-Id', r.id).send({}).expect(200);
      // Re-priced at commit (complexity 1.2: 12 instead of 10): past the run's budget, refused, and the hold stays as it was.
      const repriced = await a.http().post(`/api/organizations/${org}/usage/reservations/${h2.reservationId}/commit`).set(ADMIN).send({ eventData: { complexity: 1.2 } }).expect(402);
      expect(repriced.body).toMatchObject({ error: 'RUN_BUDGET_EXCEEDED', details: { budgetCredits: '30', usedCredits: '20', requiredCredits: '12' } });
      expect(await view(org, r.id)).toMatchObject({ spentCredits: '20', heldCredits: '10', remainingCredits: '0' });
      await a.http().post(`/api/organizations/${org}/usage/reservations/${h2.reservationId}/commit`).set(ADMIN).send({}).expect(200);
      expect(await view(org, r.id)).toMatchObject({ spentCredits: '30', heldCredits: '0', remainingCredits: '0' });
      const r2 = await run(org, { budgetCredits: 1 });
      const h3 = (await hold(a, org, r2.id, sow).expect(201)).body;
      await hold(b, org, r2.id, sow).expect(402);
      await a.http().post(`/api/organizations/${org}/usage/reservations/${h3.reservationId}/release`).set(ADMIN).expect(200);
      expect(await view(org, r2.id)).toMatchObject({ spentCredits: '0', heldCredits: '0', remainingCredits: '1' });
      await hold(b, org, r2.id, sow).expect(201);
      await expectRunsConsistent(a.dataSource, org);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('a replay with the same Idempotency-Key and X-Run-Id is charged once to the run', async () => {
      const org = await createOrg();
      const r = await run(org, { budgetCredits: 25 });
      const first = await track(a, org, r.id, diagnose(1), { 'Idempotency-Key': 'agent-step-1' }).expect(201);
      for (const t of [a, b, a]) {
        const again = await track(t, org, r.id, diagnose(1), { 'Idempotency-Key': 'agent-step-1' }).expect(201);
        expect(again.body).toMatchObject({ eventId: first.body.eventId, duplicate: true });
      }
      const h = await hold(a, org, r.id, { ...diagnose(1), idempotencyKey: 'agent-hold-1' }).expect(201);
      const h2 = await hold(b, org, r.id, { ...diagnose(1), idempotencyKey: 'agent-hold-1' }).expect(201);
      expect(h2.body).toMatchObject({ reservationId: h.body.reservationId, duplicate: true });
      expect(await view(org, r.id)).toMatchObject({ spentCredits: '10', heldCredits: '10', items: [{ eventType: 'structuring_diagnose', events: 1 }] });
      // The same key for another run, or for no run, is another request: a conflict, never the first's answer.
      const other = await run(org, { budgetCredits: 25 });
      for (const runId of [other.id, undefined]) {
        const conflict = await track(b, org, runId, diagnose(1), { 'Idempotency-Key': 'agent-step-1' }).expect(409);
        expect(conflict.body).toMatchObject({ error: 'IDEMPOTENCY_CONFLICT' });
      }
      expect(await view(org, other.id)).toMatchObject({ spentCredits: '0', heldCredits: '0' });
      await expectRunsConsistent(a.dataSource, org);
    });
  });

  describe('close and expiry', () => {
    it("close releases the holds of the run and its descendants; their ids then take no call (409 RUN_CLOSED); closing again is harmless", async () => {
      const org = await createOrg();
      const root = await run(org, { budgetCredits: 100 });
      const child = await run(org, { parentRunId: root.id });
      await track(a, org, child.id, diagnose(1)).expect(201);
      const h1 = (await hold(a, org, child.id, diagnose(2)).expect(201)).body;
      const h2 = (await hold(b, org, root.id, sow).expect(201)).body;
      const unrelated = (await hold(a, org, undefined, sow).expect(201)).body;
      const closed = await a.http().post(`${runs(org)}/${root.id}/close`).set(ADMIN).expect(200);
      expect(closed.body).toMatchObject({ status: 'closed', closedReason: 'closed', closedAt: '2026-11-15T12:00:00.000Z', spentCredits: '10', heldCredits: '0', releasedReservations: 2 });
      expect(closed.body.children).toEqual([expect.objectContaining({ id: child.id, status: 'closed' })]);
      for (const id of [h1.reservationId, h2.reservationId]) expect((await a.http().get(`/api/organizations/${org}/usage/reservations/${id}`).set(ADMIN).expect(200)).body.status).toBe('released');
      expect((await a.http().get(`/api/organizations/${org}/usage/reservations/${unrelated.reservationId}`).set(ADMIN).expect(200)).body.status).toBe('pending');
      const before = await ledgerState(a.dataSource, org);
      for (const id of [root.id, child.id]) {
        expect((await track(b, org, id, sow).expect(409)).body).toMatchObject({ error: 'RUN_CLOSED' });
        await hold(a, org, id, sow).expect(409);
        await track(a, org, id, { events: [sow] }).expect(200).expect((res) => expect(res.body.results[0].error.error).toBe('RUN_CLOSED'));
      }
      await a.http().post(runs(org)).set(ADMIN).send({ parentRunId: child.id }).expect(409);
      expect(await ledgerState(a.dataSource, org)).toEqual(before);
      expect((await b.http().post(`${runs(org)}/${root.id}/close`).set(ADMIN).expect(200)).body).toMatchObject({ status: 'closed', releasedReservations: 0 });
      await expectRunsConsistent(a.dataSource, org);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('a close cut off after it closed the runs (a crash before the releases) is finished by the next close', async () => {
      const org = await createOrg();
      const r = await run(org, { budgetCredits: 50 });
      const h = (await hold(a, org, r.id, diagnose(2)).expect(201)).body;
      // What a killed instance leaves: the runs closed (their own statement, committed), the holds not yet released.
      await a.dataSource.query(`UPDATE runs SET status = 'closed', closed_at = now() WHERE organization_id = $1 AND id = $2`, [org, r.id]);
      await track(a, org, r.id, sow).expect(409);
      expect(await view(org, r.id)).toMatchObject({ status: 'closed', heldCredits: '20' });
      const again = await b.http().post(`${runs(org)}/${r.id}/close`).set(ADMIN).expect(200);
      expect(again.body).toMatchObject({ releasedReservations: 1, heldCredits: '0' });
      expect((await a.http().get(`/api/organizations/${org}/usage/reservations/${h.reservationId}`).set(ADMIN).expect(200)).body.status).toBe('released');
      await expectRunsConsistent(a.dataSource, org);
      await expectLedgerConsistent(a.dataSource, org);
    });

    it('a run past its ttl takes no call (the injected clock), nor do its descendants', async () => {
      const org = await createOrg();
      const r = await run(org, { ttlSeconds: 60 });
      const child = await run(org, { parentRunId: r.id, ttlSeconds: 3600 });
      await track(a, org, child.id, sow).expect(201);
      clock.set('2026-11-15T12:01:00.000Z');
      try {
        await track(a, org, child.id, sow).expect(409);
        await track(b, org, r.id, sow).expect(409);
        expect(await view(org, child.id)).toMatchObject({ status: 'closed', closedReason: 'expired', spentCredits: '1' });
      } finally {
        clock.set('2026-11-15T12:00:00.000Z');
      }
    });
  });

  describe('the client package', () => {
    let host: INestApplication;
    let hostUrl: string;
    let journalDir: string;
    let org: string;
    let client: UsageClient;

    beforeAll(async () => {
      org = await createOrg();
      const key = (await a.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: 'agent host', scopes: ['track', 'read'] }).expect(201)).body.key as string;
      await a.app.listen(0, '127.0.0.1');
      const serviceUrl = (await a.app.getUrl()).replace('[::1]', '127.0.0.1');
      journalDir = mkdtempSync(join(tmpdir(), 'runs-journal-'));
      @Module({ imports: [UsageClientModule.forRoot({ baseUrl: serviceUrl, apiKey: key, organizationId: org, retryBaseDelayMs: 1, journalPath: join(journalDir, 'journal.jsonl') })], controllers: [AgentHostController] })
      class HostModule {}
      host = await NestFactory.create(HostModule, { logger: false });
      await host.listen(0, '127.0.0.1');
      hostUrl = (await host.getUrl()).replace('[::1]', '127.0.0.1');
      client = new UsageClient({ baseUrl: serviceUrl, apiKey: key, organizationId: org });
    }, 60_000);
    afterAll(async () => {
      await host?.close();
      if (journalDir) rmSync(journalDir, { recursive: true, force: true });
    });

    const step = (runId?: string) => fetch(`${hostUrl}/agent/step`, { method: 'POST', headers: { 'content-type': 'application/json', ...(runId ? { 'x-run-id': runId } : {}) }, body: JSON.stringify({ text: 'x' }) });

    it("@TrackUsage forwards the incoming X-Run-Id: charged to the run, and refused before the handler runs past the run's budget", async () => {
      const r = await run(org, { budgetCredits: 2 });
      const calls = hostCalls;
      expect((await step(r.id)).status).toBe(200);
      expect((await step(r.id)).status).toBe(200);
      const refused = await step(r.id);
      expect(refused.status).toBe(402);
      expect(((await refused.json()) as { error: string; details: { path: string[] } })).toMatchObject({ error: 'RUN_BUDGET_EXCEEDED', details: { path: [r.id] } });
      expect(hostCalls).toBe(calls + 2);
      expect(await view(org, r.id)).toMatchObject({ spentCredits: '2', heldCredits: '0' });
      await expectRunsConsistent(a.dataSource, org);
    });

    it('UsageClient sends runId as X-Run-Id: track, batch, reserve and commit', async () => {
      const r = await run(org, { budgetCredits: 20 });
      await client.track({ ...sow, runId: r.id });
      const batch = await client.trackBatch([sow, sow], { runId: r.id });
      expect(batch.results.map((x) => x.status)).toEqual(['accepted', 'accepted']);
      const h = await client.reserve({ ...diagnose(1), runId: r.id });
      expect(await view(org, r.id)).toMatchObject({ spentCredits: '3', heldCredits: '10' });
      await client.commit(h.reservationId, { runId: r.id });
      await expect(client.track({ ...diagnose(1), runId: r.id })).rejects.toMatchObject({ status: 402, code: 'RUN_BUDGET_EXCEEDED' });
      expect(await view(org, r.id)).toMatchObject({ spentCredits: '13', heldCredits: '0' });
      await expectRunsConsistent(a.dataSource, org);
      await expectLedgerConsistent(a.dataSource, org);
    });
  });

  it("the service's @TrackUsage charges the run named by X-Run-Id", async () => {
    const org = await createOrg();
    const r = await run(org, { budgetCredits: 3 });
    await a.http().post('/api/export/pdf').set(ADMIN).set('X-Organization-Id', org).set('X-Run-Id', r.id).send({}).expect(200);
    const refused = await b.http().post('/api/export/pdf').set(ADMIN).set('X-Organization-Id', org).set('X-Run-Id', r.id).send({}).expect(402);
    expect(refused.body).toMatchObject({ error: 'RUN_BUDGET_EXCEEDED', details: { path: [r.id], usedCredits: '2', requiredCredits: '2' } });
    expect(await view(org, r.id)).toMatchObject({ spentCredits: '2', items: [{ eventType: 'export_pdf', events: 1, credits: '2' }] });
  });

  it(`the race: no ancestor's budget is ever passed${ON_POSTGRES ? ', across two instances' : ''} (single, batch, holds, @TrackUsage on a tree of runs)`, async () => {
    const rounds = ON_POSTGRES ? 20 : 6;
    for (let round = 0; round < rounds; round++) {
      const org = await createOrg();
      const limit = 9 + (round % 5);
      const root = await run(org, { budgetCredits: limit });
      const left = await run(org, { parentRunId: root.id, budgetCredits: limit * 2 });
      const right = await run(org, { parentRunId: root.id, budgetCredits: limit * 3 }, b);
      const leaf = await run(org, { parentRunId: left.id, budgetCredits: limit * 4 });
      const tree = [root, left, right, leaf];
      const calls: Array<Promise<{ status: number }>> = [];
      // Every third round the left branch is closed in the middle of the calls: no hold on it outlives the close.
      const closing = round % 3 === 0;
      for (let i = 0; i < 24; i++) {
        const t = i % 2 === 0 ? a : b;
        const target = tree[(i * 7 + round) % tree.length].id;
        if (closing && i === 12) calls.push((i % 4 === 0 ? b : a).http().post(`${runs(org)}/${left.id}/close`).set(ADMIN));
        if (i % 4 === 0) calls.push(track(t, org, target, sow));
        else if (i % 4 === 1) calls.push(track(t, org, target, { events: [sow, diagnose(0.2)] }));
        else if (i % 4 === 2) calls.push(hold(t, org, target, sow));
        else calls.push(t.http().post('/api/export/pdf').set(ADMIN).set('X-Organization-Id', org).set('X-Run-Id', target).send({}));
      }
      const answers = await Promise.all(calls);
      expect(answers.map((r) => r.status).filter((s) => ![200, 201, 402, ...(closing ? [409] : [])].includes(s))).toEqual([]);
      if (closing) {
        const [{ n }] = await a.dataSource.query(`SELECT count(*)::int AS n FROM reservations WHERE organization_id = $1 AND status = 'pending' AND run_id = ANY ($2::uuid[])`, [org, [left.id, leaf.id]]);
        expect({ round, pendingOnClosed: n }).toEqual({ round, pendingOnClosed: 0 });
      }
      const [used] = await a.dataSource.query(`SELECT used::text AS used FROM runs WHERE organization_id = $1 AND id = $2`, [org, root.id]);
      // The demand (24 calls, about 40 credits) is far above the root's budget: used up to what fits, never past it.
      expect(Number(used.used)).toBeLessThanOrEqual(limit);
      if (!closing) expect(Number(used.used)).toBeGreaterThanOrEqual(limit - 2);
      await expectRunsConsistent(a.dataSource, org);
      await expectLedgerConsistent(a.dataSource, org);
    }
  });
});
