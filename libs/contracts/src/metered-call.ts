// The reserve/settle protocol of a non-streamed @TrackUsage call, shared by the service's own interceptor and
// the client package's (like metered-stream.ts for streamed answers). Each gives a port: how it answers a
// replay, refuses, commits and releases, in process or through the reservations API. The hold is made by
// the interceptor itself first (the client's may fail open when the service is unreachable).

import { replayDecision } from './idempotent-replay';
import type { ReplayDecision } from './idempotent-replay';
import type { ReservationResult } from './tracking.types';

/** What an interceptor gives the protocol for one call. */
export interface MeteredCallPort {
  /** The request's idempotency key, if any. */
  idempotencyKey: string | undefined;
  /** A duplicate pending hold under a key the interceptor made itself is its own retried reserve: it runs. */
  ownRetry?: boolean;
  now(): Date;
  /** The answer kept for the key, as the route answers it (headers set). */
  replay(decision: Extract<ReplayDecision, { kind: 'replay' }>): unknown;
  /** Throws the refusal (409 in progress or replayed, a conflict) as the platform's error. */
  refuse(decision: Extract<ReplayDecision, { kind: 'refuse' }>): never;
  /** Charges the work that ran and returns the route's answer with its usage. */
  commit(body: unknown): Promise<unknown>;
  /** Gives the hold back after the handler failed (best effort: the sweep expires it otherwise). */
  release(): Promise<void>;
  /** The error a failed charge after a successful handler leaves as (the hold is not released for it). */
  chargeFailed(error: unknown): unknown;
}

/** A failed charge on its way past the release: the handler succeeded, the hold stays for the commit's retry or the sweep. */
class ChargeFailed extends Error {
  constructor(readonly error: unknown) {
    super('charging after a successful handler failed');
  }
}

/** What to do with the handler: not run it (a replay's answer), or run it and settle by its outcome. */
export type MeteredCall =
  | { kind: 'replay'; answer: unknown }
  | {
      kind: 'run';
      /** The handler succeeded: charge it (a failure here is thrown as chargeFailed, never released). */
      settle(body: unknown): Promise<unknown>;
      /** The handler (or its charge) failed: the handler's own error after releasing the hold, or the charge's. */
      fail(error: unknown): Promise<never>;
    };

/**
 * A key used before never runs the handler again (docs/idempotency.md): the first answer, or a refusal
 * thrown by the port. Otherwise the handler runs; its success commits the hold, its failure releases it
 * and passes its own error through, so the caller is never charged for work that failed.
 */
export function meteredCall(hold: ReservationResult, port: MeteredCallPort): MeteredCall {
  const decision = replayDecision(hold, port.idempotencyKey, port.now(), port.ownRetry ?? false);
  if (decision.kind === 'replay') return { kind: 'replay', answer: port.replay(decision) };
  if (decision.kind === 'refuse') port.refuse(decision);
  return {
    kind: 'run',
    settle: async (body) => {
      try {
        return await port.commit(body);
      } catch (error) {
        throw new ChargeFailed(port.chargeFailed(error));
      }
    },
    fail: async (error) => {
      if (error instanceof ChargeFailed) throw error.error;
      await port.release();
      throw error;
    },
  };
}
