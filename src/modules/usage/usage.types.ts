import type { Period } from '../../common/time/period';
import type { EventDefinitionRecord } from '../events/event-registry.service';
import type { DomainError } from '../../common/errors/domain-error';
import type { TrackResult } from '../../../libs/contracts/src/tracking.types';
import type { PriceBreakdown } from './utils/credit-calculator';

// The shapes the usage module's pieces hand each other (tracker, reservations, ledger entries, the
// interceptor), in a file of their own so that no service imports another only for a type.

/** One event to track, as the HTTP API, the interceptor or another module hands it over. */
export interface TrackInput {
  organizationId: string;
  eventType: string;
  eventData?: Record<string, unknown>;
  userId?: string;
  occurredAt?: string;
  idempotencyKey?: string;
  /**
   * Asynchronous events: when the event was accepted (ISO 8601), its time when it gives no occurredAt. Never
   * part of the idempotency key's request hash: a retry of the same request is accepted later, and must be a
   * duplicate, not an IDEMPOTENCY_CONFLICT.
   */
  acceptedAt?: string;
  /**
   * Where the event came from. `apiKeyId` is the organization API key that made the request (none with the
   * admin key): its budgets apply. It travels with the input, so a hold and an asynchronous
   * event are charged to the key that asked for them. `runId` (the X-Run-Id header) is the agent run the event
   * is charged to, carried the same way.
   */
  context?: { endpoint?: string; ip?: string; userAgent?: string; apiKeyId?: string; runId?: string };
}

/** An event that passed every check that needs no ledger: priced, dated, its period known. */
export interface Prepared {
  index: number;
  input: TrackInput;
  definition: EventDefinitionRecord;
  /** What the ledger charges, in micro-credits (exact below a hundredth: see common/money/credits.ts). */
  micros: number;
  /** The price as shown, in hundredths: `micros` rounded half-up once. */
  credits: number;
  breakdown: PriceBreakdown;
  occurredAt: Date;
  period: Period;
  periodStart: string;
  key?: string;
  hash?: string;
}

/** What became of one event: accepted (or a replay of an accepted one), or refused with its error. */
export type Outcome = { status: 'accepted' | 'duplicate'; result: TrackResult } | { status: 'rejected'; error: DomainError };

/** Where an event being recorded came from: a request, the asynchronous buffer, or work whose hold expired. */
export type TrackSource = 'sync' | 'async' | 'expired_hold';
