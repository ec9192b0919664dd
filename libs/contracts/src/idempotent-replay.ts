// The replay protocol of metered routes under an Idempotency-Key (docs/idempotency.md), shared by the
// service's @TrackUsage and the client package's: one decision, so the two never answer a replay differently.
// Pure functions of plain data; no dependency beyond this folder.
import type { ErrorBody } from './error-codes';
import type { ReservationResult, TrackResult, UsageEnvelope } from './tracking.types';

/** The default bound of a kept answer (IDEMPOTENT_RESPONSE_MAX_BYTES), in bytes of its JSON. */
export const DEFAULT_IDEMPOTENT_RESPONSE_MAX_BYTES = 64 * 1024;

/** Why a completed request's answer was not kept: its replay is 409 IDEMPOTENCY_REPLAYED with the charge. */
export type UnstorableReason = 'too_large' | 'not_json' | 'not_given';

/** What the metered route answered, as the commit hands it to the service: the handler's result and status. */
export interface FirstAnswer {
  /** The answer's HTTP status; absent for a commit through the reservations API that handed no answer. */
  status?: number;
  /** The handler's result, before `usage` is added; absent when it cannot be kept (`unstorable`). */
  body?: unknown;
  unstorable?: UnstorableReason;
}

/**
 * What a completed request leaves with its key, written in the commit's transaction: the charge always,
 * the answer when it could be kept. A replay rebuilds the first answer from it: `body` with `usage` added
 * (object bodies), `X-Credits-Consumed` / `X-Credits-Remaining` from `usage`, the same status.
 */
export interface StoredAnswer extends FirstAnswer {
  usage: UsageEnvelope;
}

/** What the interceptor does with the hold it asked for. */
export type ReplayDecision =
  /** A hold of its own: run the handler, then commit (or release when it throws). */
  | { kind: 'run' }
  /** Completed before: answer this, never run the handler. */
  | { kind: 'replay'; answer: StoredAnswer & { body: unknown; status: number }; body: unknown }
  /** Completed before, its answer not kept, or still running: answer this error, never run the handler. */
  | { kind: 'refuse'; error: ErrorBody & { details: Record<string, unknown> }; retryAfterSeconds?: number };

/**
 * The protocol. A fresh hold runs. A hold under a key already used: pending means the first request is
 * still running (its hold expires at the latest when it can still be), so 409 IDEMPOTENCY_IN_PROGRESS with
 * Retry-After up to that expiry; committed means it completed: its kept answer, else 409
 * IDEMPOTENCY_REPLAYED with the original charge. `ownRetry`: the client package's own retried reserve under
 * a key it generated (the first answer was lost on the way back): that pending hold is this request's.
 */
export function replayDecision(hold: ReservationResult, key: string | undefined, now: Date, ownRetry = false): ReplayDecision {
  if (!hold.duplicate) return { kind: 'run' };
  if (hold.status === 'pending') {
    if (ownRetry) return { kind: 'run' };
    const left = Math.ceil((Date.parse(hold.expiresAt) - now.getTime()) / 1000);
    const retryAfterSeconds = Number.isFinite(left) ? Math.max(1, left) : 1;
    return {
      kind: 'refuse',
      retryAfterSeconds,
      error: {
        statusCode: 409,
        error: 'IDEMPOTENCY_IN_PROGRESS',
        message: `A request with Idempotency-Key "${key}" is still running; retry after ${retryAfterSeconds} s for its answer`,
        details: { idempotencyKey: key, reservationId: hold.reservationId, expiresAt: hold.expiresAt, retryAfterSeconds },
      },
    };
  }
  const answer = hold.answer ?? null;
  if (answer && !answer.unstorable && answer.body !== undefined && answer.status !== undefined) return { kind: 'replay', answer: answer as StoredAnswer & { body: unknown; status: number }, body: withUsage(answer.body, answer.usage) };
  const charge = answer?.usage;
  return {
    kind: 'refuse',
    error: {
      statusCode: 409,
      error: 'IDEMPOTENCY_REPLAYED',
      message: `The request with Idempotency-Key "${key}" already completed and was charged; its answer was not kept (${answer?.unstorable ?? 'not_given'}), so it is not repeated`,
      details: {
        idempotencyKey: key,
        reservationId: hold.reservationId,
        eventId: charge?.eventId ?? null,
        eventType: hold.eventType,
        creditsConsumed: charge?.creditsConsumed ?? hold.credits,
        reason: answer?.unstorable ?? 'not_given',
      },
    },
  };
}

/**
 * What is kept of an answer: the whole of it when its body is JSON and the JSON of it all fits in
 * `maxBytes`; else only its status and charge, with the reason.
 */
export function storedAnswer(first: FirstAnswer, usage: UsageEnvelope, maxBytes: number): StoredAnswer {
  if (first.unstorable || first.body === undefined) return { status: first.status, usage, unstorable: first.unstorable ?? 'not_json' };
  if (!isJsonValue(first.body)) return { status: first.status, usage, unstorable: 'not_json' };
  const kept: StoredAnswer = { status: first.status, body: first.body, usage };
  return jsonBytes(kept) > maxBytes ? { status: first.status, usage, unstorable: 'too_large' } : kept;
}

/**
 * The first answer as it can be handed over: a JSON body that fits `maxBytes`, else only the reason. The
 * client package calls it before sending the body to the service (never a body past the bound on the wire).
 */
export function firstAnswer(status: number, body: unknown, maxBytes: number): FirstAnswer {
  if (body === undefined || !isJsonValue(body)) return { status, unstorable: 'not_json' };
  return jsonBytes(body) > maxBytes ? { status, unstorable: 'too_large' } : { status, body };
}

/** The `usage` envelope of a synchronous charge. */
export function usageOfCharge(r: TrackResult): UsageEnvelope {
  return { eventId: r.eventId, eventType: r.eventType, creditsConsumed: r.creditsConsumed, remainingCredits: r.remainingCredits, overageCredits: r.overageCredits, warnings: r.warnings, mode: 'sync' };
}

/** The body a metered route answers with: `usage` added to an object body, any other body as it is. */
export function withUsage(body: unknown, usage: UsageEnvelope): unknown {
  return isPlainRecord(body) ? { ...body, usage } : body;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A body that is JSON as it is (a stream, a buffer or a file is not: it cannot be kept as an answer). */
function isJsonValue(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value) || isPlainRecord(value)) {
    try {
      JSON.stringify(value);
      return true;
    } catch {
      return false; // a cycle or a BigInt
    }
  }
  return false;
}

function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).length;
}
