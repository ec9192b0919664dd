import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { Clock } from '../../common/clock/clock';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { ERROR_STATUS } from '../../common/errors/error-codes';
import { MetricsService } from '../../common/metrics/metrics.service';
import { OrganizationsService } from '../organizations/organizations.service';
import type { BatchItemResult, CheckResult, TrackResult } from '../../../libs/contracts/src/tracking.types';
import { EventPreparer } from './event-preparer.service';
import { GroupCommit } from './group-commit';
import { LedgerRecorder } from './ledger-recorder.service';
import { LedgerService } from '../ledger/ledger.service';
import { RefusedEventsRecorder } from './refused-events.recorder';
import { UsageQuote } from './usage-quote.service';
import { MAX_BATCH_EVENTS } from './utils/track-input';
import type { Outcome, Prepared, TrackInput, TrackSource } from './usage.types';

export type { BatchItemResult, CheckResult, TrackResult, UsageWarning } from '../../../libs/contracts/src/tracking.types';
export type { Prepared, TrackInput } from './usage.types';

/**
 * The programmatic API of metering: prices events, enforces the ledger's rules (docs/ledger.md) and records them. The verbs are
 * classes of their own: EventPreparer (validate, price, date), LedgerRecorder (the ledger's debit, LedgerService:
 * one transaction of keys, the set-based debit and the writes; its refusals as errors), TrackRejections (what a refusal says), RefusedEventsRecorder (asynchronous
 * refusals kept), UsageQuote (the rolled-back debit), GroupCommit (single events of any organizations share a
 * transaction); this class puts them in order and counts the outcomes.
 *
 * Every debit goes through `consume_credits_many`, one statement that checks and writes under the period's
 * balance row lock and decides the period's plan, allowance, rate, limits, budgets and cap itself from the
 * rows it locks, so no interleaving of requests, batches, plan changes or instances can overspend.
 */
@Injectable()
export class UsageTracker {
  /**
   * Single events share transactions across organizations (one group commit for all of them, split in
   * lanes by organization so that an organization's events stay in one lane, in order, while the lanes'
   * transactions run side by side): spreading load over many organizations costs what one hot organization
   * costs, instead of one transaction per event.
   */
  private readonly singles: GroupCommit<TrackInput, Outcome>;

  constructor(
    private readonly organizations: OrganizationsService,
    private readonly preparer: EventPreparer,
    private readonly recorder: LedgerRecorder,
    private readonly refused: RefusedEventsRecorder,
    private readonly quote: UsageQuote,
    private readonly ledger: LedgerService,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.singles = new GroupCommit((inputs) => this.record(inputs, 'sync'), { maxPerRun: MAX_BATCH_EVENTS, lanes: config.trackingGroupLanes });
  }

  /** Tracks one event; throws a DomainError (402, 404, 409, …) when it is not accepted. */
  async track(input: TrackInput): Promise<TrackResult> {
    const item = await this.singles.submit(input.organizationId, input);
    if (item.status === 'rejected') throw item.error;
    return item.result;
  }

  /**
   * Tracks up to 1,000 events in order, each with its own result. An item may already be a DomainError
   * (it failed validation): it keeps its place and its error in the results.
   */
  async trackBatch(organizationId: string, inputs: Array<TrackInput | DomainError>): Promise<BatchItemResult[]> {
    if (inputs.length === 0) throw validationFailed({ events: ['events must hold at least one event'] });
    if (inputs.length > MAX_BATCH_EVENTS) throw validationFailed({ events: [`a batch holds at most ${MAX_BATCH_EVENTS} events`] });
    const outcomes = await this.trackMany(organizationId, inputs);
    return toBatchResults(outcomes);
  }

  /**
   * Writes asynchronously accepted events (the async buffer, or work whose hold expired while it ran).
   * They are enforced like any other when written (never overspend, on every path: docs/ledger.md); one that
   * does not fit then is kept as a refused event (event log, reconciliation, a notification and its webhook)
   * and charges nothing. Nothing is lost: every input ends as an accepted, duplicate or refused record.
   */
  async trackAsync(organizationId: string, inputs: TrackInput[], source: 'async' | 'expired_hold' = 'async'): Promise<BatchItemResult[]> {
    const outcomes = await this.trackMany(organizationId, inputs, source);
    return toBatchResults(outcomes);
  }

  /**
   * The ingest drainers' write: asynchronously accepted events of any organizations, in the order given
   * (each organization's in the order it was accepted), in ONE transaction with their refusals and whatever
   * `within` adds (the receipts' counts, the queue's acknowledgement on PostgreSQL). A failure rolls it all
   * back: the batch is delivered again, and nothing was half written.
   */
  drain(inputs: TrackInput[], within?: (results: BatchItemResult[]) => Promise<void>): Promise<BatchItemResult[]> {
    return this.prepareDrain(inputs).then((run) => this.writeDrain(run, within));
  }

  /**
   * The first half of `drain`: validation, pricing and dating, no ledger write (a drainer prepares its next
   * batch while the current one is being written). The run is written once, by `writeDrain`.
   */
  prepareDrain(inputs: TrackInput[]): Promise<PreparedRun> {
    return this.prepareRun(inputs);
  }

  /** The second half of `drain`: the ledger transaction of a prepared run (a retry prepares again). */
  writeDrain(run: PreparedRun, within?: (results: BatchItemResult[]) => Promise<void>): Promise<BatchItemResult[]> {
    // A fresh copy of the outcomes: a rolled-back attempt must not leave its decisions in the run.
    return this.write({ ...run, outcomes: [...run.outcomes] }, 'async', within).then(toBatchResults);
  }

  /**
   * An asynchronous batch before it is accepted: everything that can be decided without the ledger (the
   * organization, 404 for the whole batch; each event's type, member, price and period, its DomainError in
   * its place). What passes here can only be refused later by the ledger's own rules (allowance, caps).
   */
  async screen(organizationId: string, inputs: Array<TrackInput | DomainError>): Promise<Array<TrackInput | DomainError>> {
    if (inputs.length === 0) throw validationFailed({ events: ['events must hold at least one event'] });
    if (inputs.length > MAX_BATCH_EVENTS) throw validationFailed({ events: [`a batch holds at most ${MAX_BATCH_EVENTS} events`] });
    await this.organizations.assertExists(organizationId);
    const now = this.clock.now();
    const members = new Map<string, Promise<void>>();
    const screened: Array<TrackInput | DomainError> = [];
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      if (input instanceof DomainError) {
        screened.push(input);
        continue;
      }
      try {
        await this.preparer.prepare(input, i, now, members);
        screened.push(input);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        screened.push(error);
      }
    }
    return screened;
  }

  /** Validates raw bodies (one per event) into inputs: used by the HTTP layer for singles and batch items. */
  parse(organizationId: string, plain: unknown, headerKey?: string, context?: TrackInput['context'], prefix = ''): TrackInput {
    return this.preparer.parse(organizationId, plain, headerKey, context, prefix);
  }

  /** Prices an event and says whether it would fit now, without recording anything. */
  check(input: TrackInput): Promise<CheckResult> {
    return this.quote.check(input);
  }

  /** 404 ORGANIZATION_NOT_FOUND unless it exists (cached: organizations are never deleted). */
  assertOrganization(organizationId: string): Promise<void> {
    return this.organizations.assertExists(organizationId);
  }

  private async trackMany(organizationId: string, inputs: Array<TrackInput | DomainError>, source: TrackSource = 'sync'): Promise<Outcome[]> {
    await this.organizations.assertExists(organizationId);
    return this.record(inputs, source);
  }

  /**
   * Prepares and records events in one transaction: one organization's (a batch, the async buffer) or many
   * organizations' (a group of single events). An organization that does not exist refuses its own events
   * (404) and no other.
   */
  private async record(inputs: Array<TrackInput | DomainError>, source: TrackSource, within?: (results: BatchItemResult[]) => Promise<void>): Promise<Outcome[]> {
    return this.write(await this.prepareRun(inputs), source, within);
  }

  /**
   * Everything decided before the ledger: each input validated, priced and dated (or its DomainError in its
   * place), and the months' partitions made. Reads only: a drainer runs it for its next batch while the
   * current one is being written.
   */
  private async prepareRun(inputs: Array<TrackInput | DomainError>): Promise<PreparedRun> {
    const now = this.clock.now();
    const outcomes: Outcome[] = new Array(inputs.length);
    const ready: Prepared[] = [];
    const members = new Map<string, Promise<void>>();
    const organizations = new Map<string, Promise<DomainError | null>>();
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      if (input instanceof DomainError) {
        outcomes[i] = { status: 'rejected', error: input };
        continue;
      }
      try {
        let known = organizations.get(input.organizationId);
        if (!known) {
          known = this.organizations.assertExists(input.organizationId).then(
            () => null,
            (error: unknown) => (error instanceof DomainError ? error : Promise.reject(error)),
          );
          organizations.set(input.organizationId, known);
        }
        const missing = await known;
        if (missing) throw missing;
        ready.push(await this.preparer.prepare(input, i, now, members));
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        outcomes[i] = { status: 'rejected', error };
      }
    }
    for (const start of new Set(ready.map((p) => p.periodStart))) await this.ledger.ensurePartition(start);
    return { inputs, now, outcomes, ready };
  }

  /** Records a prepared run; asynchronous sources in one transaction with their refusals and `within`. */
  private async write(run: PreparedRun, source: TrackSource, within?: (results: BatchItemResult[]) => Promise<void>): Promise<Outcome[]> {
    const { inputs, now, outcomes, ready } = run;
    const write = async () => {
      if (ready.length > 0) {
        const recorded = await this.recorder.record(ready, now);
        for (const [i, outcome] of recorded) outcomes[i] = outcome;
      }
      if (source !== 'sync') await this.refused.keep(inputs, outcomes, ready, now, source);
      if (within) await within(toBatchResults(outcomes));
    };
    // Asynchronous events were answered as accepted already: their accepted and refused records commit
    // together (a crash between two transactions lost the refusals), so a redelivery finds all or nothing.
    if (source === 'sync') await write();
    else await this.ledger.transaction(write);
    this.count(outcomes, ready);
    return outcomes;
  }

  /** The metrics of a run, one increment per event type and error code (a batch is 1,000 events, not 2,000 calls). */
  private count(outcomes: Outcome[], ready: Prepared[]): void {
    const tracked = new Map<string, number>();
    const refused = new Map<string, number>();
    const micros = new Map(ready.map((p) => [p.index, p.micros]));
    // What the ledger charged, in micro-credits (not the rounded figure shown: a token event of 0.0049 counts),
    // summed as a BigInt: exact whatever the number of events.
    let charged = BigInt(0);
    outcomes.forEach((o, i) => {
      if (o.status === 'rejected') refused.set(o.error.code, (refused.get(o.error.code) ?? 0) + 1);
      else if (o.status === 'accepted') {
        tracked.set(o.result.eventType, (tracked.get(o.result.eventType) ?? 0) + 1);
        charged += BigInt(micros.get(i) ?? 0);
      }
    });
    for (const [code, n] of refused) this.metrics.rejections.inc({ code }, n);
    for (const [eventType, n] of tracked) this.metrics.eventsTracked.inc({ event_type: eventType }, n);
    if (charged > BigInt(0)) this.metrics.creditsConsumed.inc(Number(charged) / 1_000_000);
  }
}

/** Inputs validated, priced and dated, waiting for their ledger transaction. */
export interface PreparedRun {
  readonly inputs: Array<TrackInput | DomainError>;
  /** The run's time: it dates the rows and decides the periods. */
  readonly now: Date;
  /** The outcomes decided before the ledger (validation refusals); the ledger's fill the rest. */
  readonly outcomes: Outcome[];
  readonly ready: Prepared[];
}

function toBatchResults(outcomes: Outcome[]): BatchItemResult[] {
  return outcomes.map((o, index) => (o.status === 'rejected' ? { index, status: 'rejected' as const, error: errorSummary(o.error) } : { index, status: o.status, result: o.result }));
}

/** The error body (docs/api.md), for a batch item. */
export function errorSummary(error: DomainError) {
  return { statusCode: ERROR_STATUS[error.code], error: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
}
