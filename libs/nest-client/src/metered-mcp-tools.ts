import { createHash, randomUUID } from 'node:crypto';
import type { ErrorBody } from '../../contracts/src/error-codes';
import { DEFAULT_IDEMPOTENT_RESPONSE_MAX_BYTES, firstAnswer, replayDecision, usageOfCharge } from '../../contracts/src/idempotent-replay';
import type { ReservationResult, UsageEnvelope } from '../../contracts/src/tracking.types';
import { isPlainObject } from './http-request';
import { isMeteringError, MeteringError } from './metering-error';
import type { UsageClient } from './usage-client';

// Structural types of what the adapter touches in @modelcontextprotocol/sdk: this package never imports the
// SDK (it is an optional peer), so a host without MCP installs and compiles nothing of it.

/** What the adapter reads of the SDK's `extra` (its `RequestHandlerExtra`), the tool callback's second argument. */
export interface McpRequestExtra {
  /** The JSON-RPC id of the `tools/call` request: a retry of the same call carries the same id. */
  requestId: string | number;
  /** The transport's session (Streamable HTTP); absent on stdio and in-memory transports. */
  sessionId?: string;
  signal?: AbortSignal;
  authInfo?: unknown;
  _meta?: Record<string, unknown>;
}

/** A tool's answer (the SDK's `CallToolResult`), as far as the adapter reads it. */
export interface McpToolResult {
  content: unknown[];
  isError?: boolean;
  _meta?: Record<string, unknown>;
}

/** The `McpServer` the tools are registered on: only its connected transport is read (for the session of a sessionless transport). */
export interface McpServerLike {
  server: { transport?: object };
}

/**
 * A call the adapter answered itself: refused by the service (402 and the rest), or its metering failed. The
 * tool did not run, or its work was not charged. (A type, not an interface: the SDK's result type has an
 * index signature, which only a type literal meets.)
 */
export type McpMeteringErrorResult = {
  content: Array<{ type: 'text'; text: string }>;
  isError: true;
  _meta: { [MCP_ERROR_META]: ErrorBody };
};

/** `_meta` keys of the results the adapter answers. */
export const MCP_USAGE_META = 'credit-metering/usage';
export const MCP_ERROR_META = 'credit-metering/error';
export const MCP_REPLAYED_META = 'credit-metering/replayed';

/** Quantities of the event type's priced units (`{inputTokens: 1200}`): whole numbers. */
export type McpUnits = Record<string, number>;

/** How one tool is metered. `A`: the tool's parsed arguments; `R`: its result. */
export interface McpToolMeter<A, R> {
  /** The event type each call is recorded as (it must exist in the service's catalogue). */
  eventType: string;
  /**
   * The event's data, priced when the call is held (complexity, features, or `units` already known from the
   * arguments). Default `{}`: the arguments are the model's choice and never price the call by themselves.
   */
  eventData?: (args: A, extra: McpRequestExtra) => Record<string, unknown>;
  /** The quantities to hold before the tool runs (default: the event type's `maxUnits`, or the `units` of `eventData`). */
  estimate?: (args: A) => McpUnits;
  /** The quantities the call really used, read from its result: the commit re-prices with them. */
  units?: (result: R, args: A) => McpUnits;
  /**
   * A tool that throws or answers `isError: true`. `release` (default): the hold goes back, nothing is
   * charged, and a retry of the same request runs again. `charge`: the hold is committed as it is (for a
   * tool whose failures cost, e.g. an upstream that bills every call); a retry gets the same error back.
   */
  onError?: 'release' | 'charge';
  /** The hold's lifetime (the service's default 600 s): a call that outlives it is not charged. */
  ttlSeconds?: number;
}

/** What the adapter knows of the session a call belongs to. */
export interface McpSession {
  /** The transport's session id, else one made for the connection (`conn-<uuid>`): stable for the session's calls. */
  key: string;
  sessionId?: string;
  extra: McpRequestExtra;
}

export interface MeteredMcpToolsOptions {
  /** The organization to charge for a call (e.g. from `extra.authInfo`); default the client's own. */
  organizationId?: (extra: McpRequestExtra) => string | undefined;
  /** The member a call is charged to, for member budgets. */
  userId?: (extra: McpRequestExtra) => string | undefined;
  /**
   * The agent run a session's calls are charged to (sent as `X-Run-Id`): asked once per session (a failed
   * answer is asked again on the session's next call). Undefined: the calls belong to no run.
   */
  runId?: (session: McpSession) => string | undefined | Promise<string | undefined>;
  /**
   * The idempotency key of a call. Default `mcp:<session>:<request id>`: a retry of the same `tools/call`
   * (the same JSON-RPC id in the same session) is held once and charged once, and never runs twice.
   */
  idempotencyKey?: (session: McpSession) => string | undefined;
  /** The largest result (bytes of JSON) kept by the service for a retry's replay (default 65,536, the service's default). */
  maxAnswerBytes?: number;
  logger?: { warn(message: string): void };
}

/** How many sessions' run ids are remembered (the oldest is asked again past this). */
const REMEMBERED_SESSIONS = 10_000;
const MAX_KEY_LENGTH = 255;

type Tool<A, E, R> = (args: A, extra: E) => Promise<R | McpMeteringErrorResult>;
type Held = { hold: ReservationResult; key: string; organizationId?: string; runId?: string; userId?: string; eventData: Record<string, unknown> };

/**
 * Meters the tools of an MCP server (`@modelcontextprotocol/sdk`) through the service's reservations API,
 * as `@TrackUsage` meters a route:
 *
 * - before the tool runs, its price is held under a key derived from the session and the JSON-RPC request
 *   id; a refusal (402: credits, limit, budget, a run's budget; or any other error of the service) is the
 *   tool's error result (`isError: true`, the code and message in the text, the error body in `_meta`), and
 *   the tool never runs;
 * - after it, the hold is committed (re-priced with `units` when given); a tool that fails gives the hold
 *   back (or charges it: `onError`);
 * - a retry of a call already charged answers the first result again (`_meta` `credit-metering/replayed`),
 *   never runs the tool twice; a retry while the first still runs is `IDEMPOTENCY_IN_PROGRESS`.
 *
 * ```ts
 * const metering = new MeteredMcpTools(server, usage, { runId: (session) => runs.for(session.key) });
 * server.registerTool('diagnose', { inputSchema: { text: z.string() } },
 *   metering.tool({ eventType: 'structuring_diagnose' }, async ({ text }) => ({ content: [{ type: 'text', text }] })));
 * ```
 */
export class MeteredMcpTools {
  private readonly connections = new WeakMap<object, string>();
  private readonly fallbackConnection = `conn-${randomUUID()}`;
  private readonly runs = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly server: McpServerLike,
    private readonly usage: UsageClient,
    private readonly options: MeteredMcpToolsOptions = {},
  ) {}

  /**
   * The tool's callback, metered: pass it to `server.registerTool(name, config, …)`. The tool has an
   * `inputSchema` (for a tool without arguments, `inputSchema: {}`): the SDK calls a tool without one with
   * `extra` alone, which is taken as such here, with no arguments.
   */
  tool<A, E extends McpRequestExtra, R extends McpToolResult>(meter: McpToolMeter<A, R>, handler: (args: A, extra: E) => R | Promise<R>): Tool<A, E, R> {
    return async (...params: [A, E] | [E]) => {
      const [args, extra] = params.length === 1 ? [undefined as A, params[0]] : params;
      const session = this.sessionOf(extra);
      let held: Held | { answer: McpToolResult };
      try {
        held = await this.hold(meter, args, session);
      } catch (error) {
        if (isMeteringError(error)) return meteringError(error.body);
        throw error;
      }
      // Refused, or a retry answered with what its first run returned (the same R, kept as JSON).
      if ('answer' in held) return held.answer as R | McpMeteringErrorResult;

      let result: R;
      try {
        result = await handler(args, extra);
      } catch (error) {
        await this.failed(meter, held, { content: [{ type: 'text', text: error instanceof Error ? error.message : String(error) }], isError: true });
        throw error;
      }
      // An error result, or no result at all (a tool that returned nothing: the SDK refuses it), is a failure.
      const isObject = typeof result === 'object' && result !== null;
      if (!isObject || result.isError) {
        await this.failed(meter, held, isObject ? result : { content: [], isError: true });
        return result;
      }
      return this.settle(meter, held, args, result);
    };
  }

  /** Holds the call's price, or answers what the service decided about a key used before (a retry). */
  private async hold<A, R>(meter: McpToolMeter<A, R>, args: A, session: McpSession): Promise<Held | { answer: McpToolResult }> {
    const extra = session.extra;
    const key = this.options.idempotencyKey?.(session) ?? keyOf(session.key, extra.requestId);
    const organizationId = this.options.organizationId?.(extra);
    const userId = this.options.userId?.(extra);
    const runId = await this.runOf(session);
    let eventData: Record<string, unknown>;
    try {
      eventData = meter.eventData ? meter.eventData(args, extra) : {};
      if (!isPlainObject(eventData)) throw new Error('not an object');
      if (meter.estimate) {
        const estimate = meter.estimate(args);
        if (!isPlainObject(estimate)) throw new Error('not an object');
        eventData = { ...eventData, units: estimate };
      }
    } catch (error) {
      return { answer: meteringError(validationFailed(`The metering of this tool could not read its arguments (${error instanceof Error ? error.message : String(error)})`)) };
    }
    const hold = await this.usage.reserve({ eventType: meter.eventType, eventData, ...(userId ? { userId } : {}), idempotencyKey: key, organizationId, runId, ttlSeconds: meter.ttlSeconds });
    // The replay protocol of metered routes (libs/contracts), with MCP's request id in place of the
    // Idempotency-Key header: a call charged before is answered from what the service kept, never run again.
    const decision = replayDecision(hold, key, new Date());
    if (decision.kind === 'replay') return { answer: replayed(decision.answer.body, decision.answer.usage) };
    if (decision.kind === 'refuse') return { answer: meteringError(decision.error) };
    return { hold, key, organizationId, runId, userId, eventData };
  }

  /**
   * Charges the work that ran and keeps its result with the key (for a retry). The quantities of `units`
   * re-price the hold; when that price no longer fits (402) the hold is charged as it was held: the most the
   * call was allowed, never past a cap. Quantities that do not price (400) charge nothing.
   */
  private async settle<A, R extends McpToolResult>(meter: McpToolMeter<A, R>, held: Held, args: A, result: R): Promise<R | McpMeteringErrorResult> {
    let eventData: Record<string, unknown> | undefined;
    if (meter.units) {
      let units: unknown;
      try {
        units = meter.units(result, args);
      } catch {
        units = undefined;
      }
      if (!isPlainObject(units)) {
        await this.release(held);
        return meteringError(validationFailed('The metering of this tool could not read the quantities from its result'));
      }
      eventData = { ...held.eventData, units };
    }
    const response = firstAnswer(200, result, this.options.maxAnswerBytes ?? DEFAULT_IDEMPOTENT_RESPONSE_MAX_BYTES);
    let usage: UsageEnvelope;
    try {
      usage = await this.commit(held, eventData, response);
    } catch (error) {
      if (eventData && isMeteringError(error) && error.status === 402) {
        usage = await this.commit(held, undefined, response).catch((e: unknown) => this.uncharged(held, e));
      } else if (isMeteringError(error, 'VALIDATION_FAILED')) {
        await this.release(held);
        return meteringError(error.body);
      } else if (isMeteringError(error, 'RESERVATION_SETTLED') && error.body.details?.status === 'expired') {
        // The tool outlived its hold (ttlSeconds), whose expiry freed the key: the call is charged directly
        // under it, enforced like any event (a 402 now leaves it uncharged, never past a cap).
        usage = await this.usage
          .track({ eventType: held.hold.eventType, eventData: eventData ?? held.eventData, ...(held.userId ? { userId: held.userId } : {}), idempotencyKey: held.key, organizationId: held.organizationId, runId: held.runId })
          .then(usageOfCharge, (e: unknown) => this.uncharged(held, e));
      } else {
        usage = this.uncharged(held, error);
      }
    }
    return { ...result, _meta: { ...result._meta, [MCP_USAGE_META]: usage } };
  }

  /** A tool that threw or answered an error: its hold goes back, or is charged (`onError: 'charge'`) with the error kept for a retry. */
  private async failed<A, R>(meter: McpToolMeter<A, R>, held: Held, result: McpToolResult): Promise<void> {
    if (meter.onError === 'charge') {
      await this.commit(held, undefined, firstAnswer(200, result, this.options.maxAnswerBytes ?? DEFAULT_IDEMPOTENT_RESPONSE_MAX_BYTES)).catch((e: unknown) => this.uncharged(held, e));
      return;
    }
    await this.release(held);
  }

  private async commit(held: Held, eventData: Record<string, unknown> | undefined, response: ReturnType<typeof firstAnswer>): Promise<UsageEnvelope> {
    try {
      return usageOfCharge(await this.usage.commit(held.hold.reservationId, { organizationId: held.organizationId, runId: held.runId, idempotencyKey: held.key, eventData, response }));
    } catch (error) {
      // Committed already: by this call's own commit whose answer was lost (the client retried it).
      if (isMeteringError(error, 'RESERVATION_SETTLED') && error.body.details?.status === 'committed') {
        const d = error.body.details;
        return { eventId: (d.eventId as string | undefined) ?? null, eventType: held.hold.eventType, creditsConsumed: typeof d.creditsConsumed === 'number' ? d.creditsConsumed : null, remainingCredits: null, overageCredits: typeof d.overageCredits === 'number' ? d.overageCredits : 0, warnings: [], mode: 'sync' };
      }
      throw error;
    }
  }

  /**
   * The work ran but its charge could not be made (the service unreachable after the client's retries, or a
   * hold that expired while the tool ran and no longer fits): the result still goes to the caller, and a hold
   * is given back at its expiry by the service's sweep. Said in the log and in the result's usage
   * (`creditsConsumed: null`).
   */
  private uncharged(held: Held, error: unknown): UsageEnvelope {
    const why = error instanceof MeteringError ? `${error.status} ${error.code}: ${error.message}` : String(error);
    this.logger().warn(`credit-metering: the MCP call ${held.key} (${held.hold.eventType}) ran but could not be charged (${why})`);
    return { eventId: null, eventType: held.hold.eventType, creditsConsumed: null, remainingCredits: null, overageCredits: 0, warnings: [], mode: 'sync' };
  }

  /** Gives a hold back; one that cannot be given back now expires after its TTL (the service's sweep). */
  private async release(held: Held): Promise<void> {
    await this.usage.release(held.hold.reservationId, { organizationId: held.organizationId, runId: held.runId }).catch((e: unknown) => {
      if (!isMeteringError(e, 'RESERVATION_SETTLED')) this.logger().warn(`credit-metering: releasing the hold of MCP call ${held.key} failed (${e instanceof Error ? e.message : String(e)})`);
    });
  }

  /** The session's run, asked once per session; a failure is not remembered. */
  private runOf(session: McpSession): Promise<string | undefined> {
    const resolve = this.options.runId;
    if (!resolve) return Promise.resolve(undefined);
    let run = this.runs.get(session.key);
    if (!run) {
      run = Promise.resolve().then(() => resolve(session));
      this.runs.set(session.key, run);
      run.catch(() => this.runs.get(session.key) === run && this.runs.delete(session.key));
      if (this.runs.size > REMEMBERED_SESSIONS) this.runs.delete(this.runs.keys().next().value!);
    }
    return run;
  }

  /**
   * Request ids are unique only within a session: a transport without session ids (stdio, in-memory) gets
   * one made for its connection, so two connections' call 1 are two calls, never a replay of each other.
   */
  private sessionOf(extra: McpRequestExtra): McpSession {
    if (extra.sessionId) return { key: extra.sessionId, sessionId: extra.sessionId, extra };
    const transport = this.server.server.transport;
    if (!transport) return { key: this.fallbackConnection, extra };
    let key = this.connections.get(transport);
    if (!key) {
      key = `conn-${randomUUID()}`;
      this.connections.set(transport, key);
    }
    return { key, extra };
  }

  private logger(): { warn(message: string): void } {
    return this.options.logger ?? console;
  }
}

/**
 * `mcp:<session>:<id>` (a string id in quotes, so the number 7 and the string "7" are two ids). A key the
 * service would refuse (past 255 characters, or not printable ASCII) is hashed, so any session id and any
 * request id give a valid key.
 */
export function keyOf(session: string, requestId: string | number): string {
  const key = `mcp:${session}:${typeof requestId === 'number' ? String(requestId) : JSON.stringify(requestId)}`;
  if (key.length <= MAX_KEY_LENGTH && /^[\x20-\x7e]+$/.test(key)) return key;
  return `mcp:sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** The service's answer (or the adapter's own), as the tool's error result: the model reads the text, a program reads `_meta`. */
function meteringError(body: ErrorBody): McpMeteringErrorResult {
  return { content: [{ type: 'text', text: `${body.error}: ${body.message}` }], isError: true, _meta: { [MCP_ERROR_META]: body } };
}

/** A call answered from what the service kept of its first run. */
function replayed(body: unknown, usage: UsageEnvelope): McpToolResult {
  const result = (isPlainObject(body) ? body : { content: [] }) as unknown as McpToolResult;
  return { ...result, _meta: { ...result._meta, [MCP_USAGE_META]: usage, [MCP_REPLAYED_META]: true } };
}

function validationFailed(message: string): ErrorBody {
  return { statusCode: 400, error: 'VALIDATION_FAILED', message };
}
