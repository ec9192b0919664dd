import { randomUUID } from 'node:crypto';
import type { ErrorBody, ErrorCode } from '../../contracts/src/error-codes';
import { ERROR_STATUS } from '../../contracts/src/error-codes';
import type { BatchResult, CheckResult, ExtensionResult, ReleaseResult, ReservationResult, TrackResult, UsageSummary } from '../../contracts/src/tracking.types';
import type { FirstAnswer } from '../../contracts/src/idempotent-replay';
import { MeteringError, MeteringUnavailableError } from './metering-error';
import { backoffDelay, describeNetworkError, isNetworkError } from './retry';

export interface UsageClientOptions {
  /** The metering service, e.g. `http://metering:5000`. */
  baseUrl: string;
  /** An organization API key (`nxk_…`; `track` is all metering needs, `read` only for `summary`), or the admin key. */
  apiKey: string;
  /**
   * The organization to charge when a call does not name one. Unset: the organization of the key, asked
   * once from the service (`GET /api/key`, which needs only the key's `track` scope).
   */
  organizationId?: string;
  /** Per attempt (default 5,000 ms); a timed-out attempt counts as a network error. */
  timeoutMs?: number;
  /** Retries after a network error or timeout (default 2); an HTTP answer is never retried. */
  retries?: number;
  /** First backoff delay (default 100 ms), doubled on each retry, with jitter. */
  retryBaseDelayMs?: number;
  /** For tests and special transports; default the global `fetch`. */
  fetch?: typeof fetch;
  /** For tests: how to wait between retries. */
  sleep?: (ms: number) => Promise<void>;
}

/** One event as the tracking API takes it. */
export interface UsageEventInput {
  eventType: string;
  eventData?: Record<string, unknown>;
  userId?: string;
  occurredAt?: string;
  /** Generated (`cm-<uuid>`) when absent, so that a retry after a lost answer is charged once. */
  idempotencyKey?: string;
  /**
   * The agent run to charge (sent as the `X-Run-Id` header, never in the body): the call counts against the
   * run and every ancestor, and is refused with 402 RUN_BUDGET_EXCEEDED past any of their budgets.
   */
  runId?: string;
}

export interface RunOption {
  /** The agent run to charge (the `X-Run-Id` header). */
  runId?: string;
}

/** `GET /api/key`: whose the key is and what it may do. */
export type KeyIdentity = { kind: 'admin' } | { kind: 'organization'; organizationId: string; scopes: string[] };

/** The result of `checkKey()`: `problem` is one line saying why metering cannot work with this key. */
export type KeyCheck = { ok: true; identity: KeyIdentity } | { ok: false; problem: string; error?: MeteringError };

export interface OrganizationOption {
  /** Default: the client's `organizationId`, or the key's organization. */
  organizationId?: string;
}

/**
 * A thin client of the metering service's HTTP API. Plain TypeScript (no Nest needed: import it from
 * `@credit-metering/nest-client/client`); the responses are typed from the service's own contract types.
 *
 * Every write carries an idempotency key (generated when not given), so a retry is charged once; only network
 * errors and timeouts are retried, with exponential backoff. Any answer of the service that is not 2xx is
 * thrown as a `MeteringError` with its status and body; a service that cannot be reached as a
 * `MeteringUnavailableError` (503 METERING_UNAVAILABLE).
 */
export class UsageClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private keyIdentity?: Promise<KeyIdentity>;

  constructor(readonly options: UsageClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? ((...args) => fetch(...args));
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Records one event: priced, enforced (402 when it does not fit) and written at once. */
  async track(event: UsageEventInput & OrganizationOption): Promise<TrackResult> {
    const { organizationId, runId, ...body } = withKey(event);
    return this.request<TrackResult>('POST', `${await this.orgPath(organizationId)}/usage/events`, body, runHeader(runId));
  }

  /** Up to 1,000 events in one transaction, one result each (a refused event does not fail the others). */
  /** `runId`: every event of the batch is charged to that run (one X-Run-Id per request; an event's own `runId` is not sent). */
  async trackBatch(events: UsageEventInput[], options: OrganizationOption & RunOption = {}): Promise<BatchResult> {
    const body = { events: events.map((e) => withoutRun(withKey(e))) };
    return this.request<BatchResult>('POST', `${await this.orgPath(options.organizationId)}/usage/events`, body, runHeader(options.runId));
  }

  /** Prices an event and says whether it fits now, without recording anything. */
  async check(event: Omit<UsageEventInput, 'idempotencyKey'> & OrganizationOption): Promise<CheckResult> {
    const { organizationId, runId, ...body } = event;
    return this.request<CheckResult>('POST', `${await this.orgPath(organizationId)}/usage/check`, body, runHeader(runId));
  }

  /** Holds the priced credits now (402 when they do not fit); commit or release later. */
  async reserve(event: UsageEventInput & OrganizationOption & { ttlSeconds?: number }): Promise<ReservationResult> {
    const { organizationId, runId, ...body } = withKey(event);
    return this.request<ReservationResult>('POST', `${await this.orgPath(organizationId)}/usage/reservations`, body, { 'idempotency-key': body.idempotencyKey!, ...runHeader(runId) });
  }

  /**
   * Records the reserved event (re-priced when `eventData` is given). Idempotent by the reservation: a
   * second commit, e.g. a retry whose first answer was lost, is 409 RESERVATION_SETTLED with
   * `details.status: 'committed'` and the original charge (`eventId`, `creditsConsumed`), and charges
   * nothing more. `response`: what the metered route answered, kept with the key for a replay. `idempotencyKey` (the reservation's) is sent
   * along as the Idempotency-Key header for tracing.
   */
  async commit(reservationId: string, options: OrganizationOption & RunOption & { eventData?: Record<string, unknown>; idempotencyKey?: string; response?: FirstAnswer } = {}): Promise<TrackResult> {
    const body = { ...(options.eventData ? { eventData: options.eventData } : {}), ...(options.response ? { response: options.response } : {}) };
    const headers: Record<string, string> = { ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}), ...runHeader(options.runId) };
    return this.request<TrackResult>('POST', `${await this.orgPath(options.organizationId)}/usage/reservations/${encodeURIComponent(reservationId)}/commit`, body, headers);
  }

  /**
   * Grows a pending hold to cover `eventData` (priced like a commit) and pushes its expiry out to `ttlSeconds`
   * from now: a streamed answer holds in steps. 402 when the extra credits do not fit (the hold stays as it
   * was). Idempotent by its target: a retry after a lost answer, with the same eventData, debits nothing more.
   * `delivered`: the eventData of what has been sent so far; if this host dies and the hold expires unsettled,
   * the service charges that instead of giving the hold back.
   */
  async extend(reservationId: string, options: OrganizationOption & { eventData: Record<string, unknown>; delivered?: Record<string, unknown>; ttlSeconds?: number; idempotencyKey?: string }): Promise<ExtensionResult> {
    const body = { eventData: options.eventData, ...(options.delivered ? { delivered: options.delivered } : {}), ...(options.ttlSeconds !== undefined ? { ttlSeconds: options.ttlSeconds } : {}) };
    const headers: Record<string, string> = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
    return this.request<ExtensionResult>('POST', `${await this.orgPath(options.organizationId)}/usage/reservations/${encodeURIComponent(reservationId)}/extend`, body, headers);
  }

  /** Gives the held credits back (409 RESERVATION_SETTLED when already settled). */
  async release(reservationId: string, options: OrganizationOption & RunOption = {}): Promise<ReleaseResult> {
    return this.request<ReleaseResult>('POST', `${await this.orgPath(options.organizationId)}/usage/reservations/${encodeURIComponent(reservationId)}/release`, {}, runHeader(options.runId));
  }

  /** The current period: plan, allowance, used, remaining, overage, count limits (needs the `read` scope). */
  async summary(options: OrganizationOption = {}): Promise<UsageSummary> {
    return this.request<UsageSummary>('GET', `${await this.orgPath(options.organizationId)}/usage`);
  }

  /** Whose the key is and what it may do, asked once (`GET /api/key`, scope `track`); a failed look-up is asked again next time. */
  async identity(): Promise<KeyIdentity> {
    if (!this.keyIdentity) {
      const asked = this.request<KeyIdentity>('GET', '/api/key');
      this.keyIdentity = asked;
      asked.catch(() => {
        if (this.keyIdentity === asked) this.keyIdentity = undefined;
      });
    }
    return this.keyIdentity;
  }

  /** The organization calls are charged to by default: the configured one, else the key's (asked once). */
  async organizationId(): Promise<string> {
    if (this.options.organizationId) return this.options.organizationId;
    const identity = await this.identity();
    if (identity.kind === 'organization') return identity.organizationId;
    throw new MeteringError(400, { statusCode: 400, error: 'VALIDATION_FAILED', message: 'The admin key has no organization: set organizationId on the client or on the route' });
  }

  /**
   * Whether this key can meter: it is known to the service, holds `track`, and names an organization (or
   * one is configured). Never throws: `problem` is one line to log, saying what is wrong and what to do.
   */
  async checkKey(): Promise<KeyCheck> {
    let identity: KeyIdentity;
    try {
      identity = await this.identity();
    } catch (error) {
      if (!(error instanceof MeteringError)) throw error;
      return { ok: false, error, problem: keyProblem(error) };
    }
    if (identity.kind === 'admin' && !this.options.organizationId) {
      return { ok: false, problem: 'credit-metering: the admin key has no organization of its own: set organizationId in UsageClientModule.forRoot, or name the organization on each @TrackUsage route' };
    }
    return { ok: true, identity };
  }

  private async orgPath(organizationId?: string): Promise<string> {
    return `/api/organizations/${encodeURIComponent(organizationId ?? (await this.organizationId()))}`;
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const retries = this.options.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      let text: string;
      try {
        response = await this.fetchFn(`${this.baseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
        });
        text = await response.text();
      } catch (error) {
        if (!isNetworkError(error)) throw error;
        if (attempt >= retries) throw new MeteringUnavailableError(describeNetworkError(error));
        await this.sleep(backoffDelay(attempt, this.options.retryBaseDelayMs ?? 100));
        continue;
      }
      const json = parseJson(text);
      if (response.ok) {
        if (json === undefined) throw new MeteringError(502, { statusCode: 502, error: 'INTERNAL', message: `The metering service answered ${response.status} without a JSON body` });
        return json as T;
      }
      throw new MeteringError(response.status, errorBody(response.status, json));
    }
  }
}

/** One line for a key the service refused at the check, with what to do about it. */
function keyProblem(error: MeteringError): string {
  const said = `${error.status} ${error.code}: ${error.message}`;
  if (error instanceof MeteringUnavailableError) return `credit-metering: could not check the API key, the service is unreachable (${String(error.body.details?.cause ?? error.message)}); metering follows failMode until it answers`;
  if (error.status === 401) return `credit-metering: the metering service refused the API key (${said}): every metered route will fail until the key is replaced`;
  if (error.status === 403) return `credit-metering: the API key cannot meter (${said}): create a key with the track scope (the dashboard's "for the client package" choice)`;
  return `credit-metering: checking the API key failed (${said})`;
}

function runHeader(runId: string | undefined): Record<string, string> {
  return runId ? { 'x-run-id': runId } : {};
}

function withoutRun<E extends UsageEventInput>(event: E): Omit<E, 'runId'> {
  const { runId: _runId, ...rest } = event;
  return rest;
}

function withKey<E extends UsageEventInput>(event: E): E {
  return event.idempotencyKey ? event : { ...event, idempotencyKey: `cm-${randomUUID()}` };
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The service's error body as it is; something else (a proxy's HTML page) gets the same shape. */
function errorBody(status: number, json: unknown): ErrorBody {
  const body = json as Partial<ErrorBody> | undefined;
  if (body && typeof body === 'object' && typeof body.error === 'string' && typeof body.message === 'string') {
    return { ...body, statusCode: typeof body.statusCode === 'number' ? body.statusCode : status } as ErrorBody;
  }
  const code = (Object.keys(ERROR_STATUS) as ErrorCode[]).find((c) => ERROR_STATUS[c] === status) ?? 'INTERNAL';
  return { statusCode: status, error: code, message: `The metering service answered ${status}` };
}
