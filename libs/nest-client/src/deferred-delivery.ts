import { isMeteringError, MeteringUnavailableError } from './metering-error';
import type { UsageClient } from './usage-client';
import type { JournalEntry, UsageJournal } from './usage-journal';

export interface DeliveryReport {
  delivered: number;
  rejected: number;
  pending: number;
}

export interface DeliveryLogger {
  warn(message: string): void;
}

/**
 * Delivers the journal's entries to the service, oldest first, each charged exactly once:
 *
 * - `track`: tracked under its idempotency key (a replay of a delivered one is `duplicate: true`).
 * - `reserve`: the hold it may have left is committed; otherwise reserved and committed under the same key.
 *   A live reserve is undated (so that a host retry under the same key is the same request), the journal's
 *   is dated when the work ran: if the undated hold landed after all, the dated reserve is 409
 *   IDEMPOTENCY_CONFLICT, and the undated one then finds that hold (pending: commit it; committed: done).
 *
 * It stops at the first unreachable answer (the rest waits for the next round). Any other refusal of the
 * service (402: no longer fits, 422: its period has closed) is final: the entry moves to the rejected file.
 */
export class DeferredDelivery {
  private running?: Promise<DeliveryReport>;

  constructor(
    private readonly client: UsageClient,
    private readonly journal: UsageJournal,
    private readonly logger: DeliveryLogger = console,
  ) {}

  /** One round over everything pending; concurrent calls share the round in progress. */
  deliver(): Promise<DeliveryReport> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Resolves when no round is running (none is started). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async round(): Promise<DeliveryReport> {
    let delivered = 0;
    let rejected = 0;
    for (const entry of this.journal.entries()) {
      try {
        await this.deliverOne(entry);
        this.journal.done(entry.id, 'delivered');
        delivered++;
      } catch (error) {
        if (error instanceof MeteringUnavailableError) {
          entry.attempts++;
          break;
        }
        if (!isMeteringError(error)) throw error;
        this.logger.warn(`Deferred usage event ${entry.input.eventType} (key ${entry.input.idempotencyKey}) refused by the metering service: ${error.status} ${error.code} ${error.message}`);
        this.journal.done(entry.id, 'rejected', error.body);
        rejected++;
      }
    }
    return { delivered, rejected, pending: this.journal.size };
  }

  private async deliverOne(entry: JournalEntry): Promise<void> {
    const organizationId = entry.organizationId ?? (await this.client.organizationId());
    const dated = { ...entry.input, occurredAt: entry.occurredAt };
    if (entry.kind === 'track') {
      await this.client.track({ ...dated, organizationId });
      return;
    }
    if (entry.reservationId && (await this.commit(organizationId, entry.reservationId, entry.input.idempotencyKey)) !== 'gone') return;
    let hold;
    try {
      hold = await this.client.reserve({ ...dated, organizationId });
    } catch (error) {
      if (!isMeteringError(error, 'IDEMPOTENCY_CONFLICT')) throw error;
      hold = await this.client.reserve({ ...entry.input, organizationId });
    }
    if (hold.duplicate && hold.status === 'committed') return;
    if ((await this.commit(organizationId, hold.reservationId, entry.input.idempotencyKey)) === 'gone') {
      throw new MeteringUnavailableError('the hold expired before it could be committed');
    }
  }

  /** 'done' when committed now or before; 'gone' when the hold was released or expired (its key is free). */
  private async commit(organizationId: string, reservationId: string, idempotencyKey: string): Promise<'done' | 'gone'> {
    try {
      await this.client.commit(reservationId, { organizationId, idempotencyKey });
      return 'done';
    } catch (error) {
      if (isMeteringError(error, 'RESERVATION_SETTLED')) return error.body.details?.status === 'committed' ? 'done' : 'gone';
      if (isMeteringError(error, 'RESERVATION_NOT_FOUND')) return 'gone';
      throw error;
    }
  }
}
