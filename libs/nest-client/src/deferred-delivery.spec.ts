import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ErrorCode } from '../../contracts/src/error-codes';
import type { ReservationResult } from '../../contracts/src/tracking.types';
import { DeferredDelivery } from './deferred-delivery';
import { MeteringError, MeteringUnavailableError } from './metering-error';
import type { UsageClient } from './usage-client';
import { UsageJournal } from './usage-journal';

const fail = (status: number, error: ErrorCode, details?: Record<string, unknown>) => new MeteringError(status, { statusCode: status, error, message: error, details });
const hold = (over: Partial<ReservationResult> = {}): ReservationResult => ({ reservationId: 'r1', eventType: 'e', credits: 10, expiresAt: '', remainingCredits: 90, status: 'pending', duplicate: false, ...over });

/**
 * A fake service: `reserve` answers from a script (a result or an error per call), and what was committed is
 * recorded, so each case can say how many charges it made.
 */
function fakeClient(reserves: Array<ReservationResult | Error>, commits: Array<'ok' | Error> = []) {
  const log: string[] = [];
  const client = {
    organizationId: async () => 'acme',
    track: async (e: { idempotencyKey: string; occurredAt?: string }) => {
      log.push(`track ${e.idempotencyKey} ${e.occurredAt ?? 'undated'}`);
      return {};
    },
    reserve: async (e: { idempotencyKey: string; occurredAt?: string }) => {
      log.push(`reserve ${e.idempotencyKey} ${e.occurredAt ? 'dated' : 'undated'}`);
      const next = reserves.shift()!;
      if (next instanceof Error) throw next;
      return next;
    },
    commit: async (id: string) => {
      log.push(`commit ${id}`);
      const next = commits.shift() ?? 'ok';
      if (next instanceof Error) throw next;
      return {};
    },
  };
  return { client: client as unknown as UsageClient, log };
}

describe('DeferredDelivery', () => {
  let dir: string;
  let journal: UsageJournal;
  const quiet = { warn: () => undefined };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'delivery-spec-'));
    journal = new UsageJournal(join(dir, 'j.jsonl'));
    journal.open();
  });
  afterEach(() => {
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const add = (over: Record<string, unknown> = {}) => journal.add({ kind: 'reserve', input: { eventType: 'e', idempotencyKey: 'k1' }, occurredAt: '2026-12-01T10:00:00.000Z', ...over });

  it.each<[string, Array<ReservationResult | Error>, Array<'ok' | Error>, Record<string, unknown>, string[]]>([
    ['nothing landed: reserved dated, committed', [hold()], [], {}, ['reserve k1 dated', 'commit r1']],
    ['the live hold landed and is pending: the undated reserve finds it, commits it', [fail(409, 'IDEMPOTENCY_CONFLICT'), hold({ duplicate: true, reservationId: 'live' })], [], {}, ['reserve k1 dated', 'reserve k1 undated', 'commit live']],
    ['already committed: nothing more', [fail(409, 'IDEMPOTENCY_CONFLICT'), hold({ duplicate: true, status: 'committed' })], [], {}, ['reserve k1 dated', 'reserve k1 undated']],
    ['a commit that landed before (409 committed): done', [hold()], [fail(409, 'RESERVATION_SETTLED', { status: 'committed' })], {}, ['reserve k1 dated', 'commit r1']],
    ['a known hold: committed directly', [], [], { reservationId: 'known' }, ['commit known']],
    ['a known hold that expired: its key is free, reserved anew', [hold()], [fail(409, 'RESERVATION_SETTLED', { status: 'expired' })], { reservationId: 'known' }, ['commit known', 'reserve k1 dated', 'commit r1']],
  ])('%s', async (_name, reserves, commits, entry, expected) => {
    const { client, log } = fakeClient(reserves, commits);
    add(entry);
    expect(await new DeferredDelivery(client, journal, quiet).deliver()).toEqual({ delivered: 1, rejected: 0, pending: 0 });
    expect(log).toEqual(expected);
  });

  it('an asynchronous event is tracked dated, under its key', async () => {
    const { client, log } = fakeClient([]);
    add({ kind: 'track' });
    await new DeferredDelivery(client, journal, quiet).deliver();
    expect(log).toEqual(['track k1 2026-12-01T10:00:00.000Z']);
  });

  it('stops at an unreachable service and keeps the entries, in order, for the next round', async () => {
    const { client, log } = fakeClient([new MeteringUnavailableError('ECONNREFUSED'), hold(), hold({ reservationId: 'r2' })]);
    add();
    add({ input: { eventType: 'e', idempotencyKey: 'k2' } });
    const delivery = new DeferredDelivery(client, journal, quiet);
    expect(await delivery.deliver()).toEqual({ delivered: 0, rejected: 0, pending: 2 });
    expect(await delivery.deliver()).toEqual({ delivered: 2, rejected: 0, pending: 0 });
    expect(log).toEqual(['reserve k1 dated', 'reserve k1 dated', 'commit r1', 'reserve k2 dated', 'commit r2']);
  });

  it('a final refusal (402, 422) moves the entry to the rejected file and goes on', async () => {
    const { client } = fakeClient([fail(402, 'CREDITS_EXHAUSTED'), hold()]);
    add();
    add({ input: { eventType: 'e', idempotencyKey: 'k2' } });
    expect(await new DeferredDelivery(client, journal, quiet).deliver()).toEqual({ delivered: 1, rejected: 1, pending: 0 });
  });

  it('concurrent calls share one round: nothing is delivered twice', async () => {
    const { client, log } = fakeClient([hold()]);
    add();
    const delivery = new DeferredDelivery(client, journal, quiet);
    const [a, b] = await Promise.all([delivery.deliver(), delivery.deliver()]);
    expect(a).toBe(b);
    expect(log).toEqual(['reserve k1 dated', 'commit r1']);
  });
});
