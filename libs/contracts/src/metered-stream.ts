// The metering protocol of a streamed response (docs/streaming.md), shared by the service's @TrackUsage and
// the client package's: one implementation, so the two never bill a stream differently. Each interceptor
// hands it a port (hold, extend, settle, release) that reaches the service its own way: in process, or
// through the HTTP API. No dependency beyond this folder.

/** Priced quantities, unit name -> whole count (e.g. {inputTokens: 120, outputTokens: 256}). */
export type Units = Record<string, number>;

/** Why a stream ended; in its last SSE event `usage`, in the event's data and in the client's result. */
export type StopReason = 'complete' | 'credit_limit' | 'client_disconnect' | 'error';

/**
 * What happens when the client goes away mid-stream. `bill-delivered`: the upstream is cancelled and what was
 * delivered is charged. `bill-all`: the upstream runs to its end (it is paid work: a model bills its tokens
 * whether read or not) and everything it produced is charged, within what can be held. `void`: the upstream is
 * cancelled and nothing is charged.
 */
export type DisconnectPolicy = 'bill-delivered' | 'bill-all' | 'void';

export const DISCONNECT_POLICIES: readonly DisconnectPolicy[] = ['bill-delivered', 'bill-all', 'void'];

/**
 * The `stream` option of both `@TrackUsage` decorators: the protocol's settings, with the input read from the
 * request, and `when` (default: always) saying whether this request streams; a request that does not is
 * metered as a plain call. Functions of the request run before anything is held: a throw is the answer (a 400).
 */
export interface StreamOption<R = unknown, C = unknown> extends Omit<StreamMetering<C>, 'input'> {
  input?: Units | ((request: R) => Units);
  when?: (request: R) => boolean;
}

/** The protocol's settings for one request. */
export function streamMeteringFor<R, C>(option: StreamOption<R, C>, request: R): StreamMetering<C> {
  const { when: _when, input, ...rest } = option;
  const units = typeof input === 'function' ? input(request) : input;
  const checked = checkedUnits(units);
  checkedUnits(rest.step);
  return { ...rest, ...(checked ? { input: checked } : {}) };
}

/** The decorator's `stream` option: how a streamed answer is counted and held for. */
export interface StreamMetering<C = unknown> {
  /** The quantities known before the first byte (the prompt's tokens); held with the first step. */
  input?: Units;
  /** What one step holds of output (default {outputTokens: 256}); the hold grows by whole steps. */
  step?: Units;
  /** The units one chunk carries (e.g. `(c) => ({ outputTokens: c.outputTokens })`); undefined: none. */
  count?: (chunk: C) => Units | undefined;
  /**
   * Recognises a final usage chunk of the kind language-model APIs send, and gives its totals (input and
   * output together): they replace what was counted. Such a chunk is not forwarded (the `usage` event says it).
   */
  usage?: (chunk: C) => Units | undefined;
  /** Default `bill-delivered`. */
  onDisconnect?: DisconnectPolicy;
  /** Told the final usage once the stream is settled (after a disconnect too): the host's own record of it. */
  onUsage?: (usage: StreamUsage) => void;
}

/** What a hold (or an extension) says back that the protocol needs: when it runs out. */
export interface HoldLease {
  expiresAt: string;
}

/**
 * How an interceptor reaches the service. Every method may throw: a throw of `hold` means the stream never
 * starts (the caller answers that error); a refusal of `extend` (any 402: a cap, a budget, a run's budget)
 * stops the stream with `credit_limit`, any other throw with `error`; `settle` charges exactly these units
 * (fewer than held: the rest goes back) and says what was charged.
 */
export interface MeteredStreamPort<H extends HoldLease = HoldLease> {
  hold(units: Units): Promise<H>;
  /**
   * `delivered`: what has gone out so far (input included), undefined before the first chunk. The service
   * keeps it with the hold and charges it if the hold expires unsettled (this host died mid-stream).
   */
  extend(units: Units, delivered?: Units): Promise<HoldLease>;
  settle(units: Units, stopReason: StopReason): Promise<{ creditsConsumed: number | null }>;
  release(): Promise<void>;
  /** Whether an error of `extend` is a refusal to hold more (HTTP 402 of any code). */
  isRefusal(error: unknown): boolean;
  /** Milliseconds now (the injectable clock). */
  now(): number;
}

/** The last event of a metered stream: what it was charged, for which quantities, and why it ended. */
export interface StreamUsage {
  creditsConsumed: number | null;
  units: Units;
  stopReason: StopReason;
}

export const DEFAULT_STREAM_STEP: Units = { outputTokens: 256 };

/** Sums quantities, key by key. */
export function addUnits(a: Units, b: Units | undefined): Units {
  const out: Units = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Whether `held` covers `needed` in every unit. */
export function covers(held: Units, needed: Units): boolean {
  return Object.entries(needed).every(([k, v]) => v <= (held[k] ?? 0));
}

/**
 * The next hold: `held` grown by the fewest whole steps that cover `needed`. A unit the step does not name
 * (a chunk counting something unforeseen) is held exactly as needed.
 */
export function nextHold(held: Units, needed: Units, step: Units): Units {
  let steps = 0;
  for (const [k, v] of Object.entries(needed)) {
    const missing = v - (held[k] ?? 0);
    const per = step[k] ?? 0;
    if (missing > 0 && per > 0) steps = Math.max(steps, Math.ceil(missing / per));
  }
  const out: Units = { ...held };
  for (const [k, per] of Object.entries(step)) out[k] = (out[k] ?? 0) + steps * per;
  for (const [k, v] of Object.entries(needed)) if (v > (out[k] ?? 0)) out[k] = v;
  return out;
}

/** Checks what a counter returned: whole quantities >= 0, or nothing. A bad counter is the route's bug. */
export function checkedUnits(value: unknown): Units | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('a stream counter must return an object of unit name -> whole quantity');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`a stream counter returned ${k}: ${String(v)} (a whole quantity >= 0 is needed)`);
  }
  return value as Units;
}

/** What the metered generator yields: a chunk to send, or the final usage (sent as the `usage` event). */
export type MeteredItem<C> = { kind: 'chunk'; chunk: C } | { kind: 'usage'; usage: StreamUsage };

/** The first hold of a stream: its input and one step of output. */
export function firstHold<C>(metering: StreamMetering<C>): Units {
  return addUnits(metering.input ?? {}, metering.step ?? DEFAULT_STREAM_STEP);
}

/**
 * Meters one stream. `run(source)` yields the chunks that are paid for, then the final usage; what the
 * consumer does not pull (it stopped: the client went away) is settled by the disconnect policy when the
 * generator is closed. Exactly one settle or release per stream, whatever happens.
 */
export class MeteredStream<C, H extends HoldLease = HoldLease> {
  private held: Units;
  private delivered: Units;
  private reported: Units | undefined;
  private expiresAt = 0;
  private firstLease = 0;
  private finished = false;
  private chunks = 0;
  private gone = false;
  private wakeGone?: () => void;
  private disconnectHandled = false;
  /** The upstream's next chunk, asked for when the client went away. */
  private inFlight?: Promise<IteratorResult<C>>;
  /** Why it ended, once known: the settle after a disconnect reads it. */
  result?: StreamUsage;
  /** The handler's error, when the upstream failed (the host logs it; before any chunk it answers it). */
  failure?: { error: unknown };

  constructor(
    private readonly metering: StreamMetering<C>,
    private readonly port: MeteredStreamPort<H>,
  ) {
    this.held = firstHold(metering);
    this.delivered = { ...(metering.input ?? {}) };
  }

  /** Before the first byte: holds the input and a first step. Throws what the hold throws (nothing is held then). */
  async open(): Promise<H> {
    const lease = await this.port.hold(this.held);
    this.lease(lease);
    return lease;
  }

  /** Whether any chunk went out (or the upstream reported its usage). */
  get started(): boolean {
    return this.reported !== undefined || !sameUnits(this.delivered, this.metering.input ?? {}) || this.chunks > 0;
  }

  /** What has been delivered so far (input included), or the usage chunk's totals when one came. */
  get units(): Units {
    return this.reported ?? this.delivered;
  }

  /**
   * The client went away (the host saw its response close before the end). Seen at once, even while the
   * handler is between chunks: the disconnect policy applies then, not when (or if) the next chunk comes.
   */
  abort(): void {
    this.gone = true;
    this.wakeGone?.();
  }

  async *run(source: AsyncIterable<C>): AsyncGenerator<MeteredItem<C>, void, undefined> {
    const iterator = source[Symbol.asyncIterator]();
    const gone = new Promise<'gone'>((resolve) => (this.wakeGone = () => resolve('gone')));
    let stop: StopReason = 'complete';
    let delivering = true;
    try {
      for (;;) {
        if (this.gone) return;
        let next: IteratorResult<C> | 'gone';
        const pending = iterator.next();
        // Raced below: a rejection that comes after the client left must not go unhandled.
        pending.catch(() => undefined);
        try {
          next = await Promise.race([pending, gone]);
        } catch (error) {
          if (this.gone) return;
          this.failure = { error };
          stop = 'error';
          break;
        }
        if (next === 'gone' || this.gone) {
          // The chunk on its way is the upstream's: bill-all counts it, the others drop it.
          this.inFlight = pending;
          return;
        }
        if (next.done) break;
        const admitted = await this.admit(next.value);
        if (admitted === 'skip') continue;
        if (admitted !== 'ok') {
          stop = admitted;
          break;
        }
        this.chunks++;
        yield { kind: 'chunk', chunk: next.value };
      }
      delivering = false;
      if (stop !== 'complete') void Promise.resolve(iterator.return?.()).catch(() => undefined);
      // A settle that fails leaves the hold to its expiry; the client still learns how its stream ended.
      const usage = await this.finish(stop).catch(() => ({ creditsConsumed: null, units: this.units, stopReason: stop }));
      yield { kind: 'usage', usage };
    } finally {
      if (delivering) {
        // The consumer stopped pulling, or the response closed: the client went away (or the host closed it).
        await this.disconnected(iterator);
      }
    }
  }

  /**
   * Whether a chunk may go out: its units counted, the hold extended first when they pass it (or when the
   * hold is half way to its expiry). 'skip': a usage chunk, counted but not forwarded.
   */
  private async admit(chunk: C): Promise<'ok' | 'skip' | StopReason> {
    let counted: Units | undefined;
    let totals: Units | undefined;
    try {
      totals = checkedUnits(this.metering.usage?.(chunk));
      counted = totals ? undefined : checkedUnits(this.metering.count?.(chunk));
    } catch {
      return 'error';
    }
    if (totals) {
      // The upstream's own report: the charge follows it, held for first when it passes the hold (a stream
      // with no per-chunk counter learns its size only now); what cannot be held is not charged (never past
      // the limit).
      if (!covers(this.held, totals)) {
        const target = nextHold(this.held, totals, this.metering.step ?? DEFAULT_STREAM_STEP);
        try {
          this.lease(await this.port.extend(target, this.started ? this.units : undefined));
          this.held = target;
        } catch {
          // Refused: charged up to what was held.
        }
      }
      this.reported = Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, Math.min(v, this.held[k] ?? 0)]));
      for (const [k, v] of Object.entries(this.delivered)) if (!(k in this.reported)) this.reported[k] = v;
      return 'skip';
    }
    const after = addUnits(this.delivered, counted);
    const step = this.metering.step ?? DEFAULT_STREAM_STEP;
    const due = this.port.now() >= this.expiresAt - this.firstLease / 2;
    if (!covers(this.held, after) || due) {
      const target = covers(this.held, after) ? this.held : nextHold(this.held, after, step);
      try {
        this.lease(await this.port.extend(target, this.started ? this.units : undefined));
        this.held = target;
      } catch (error) {
        return this.port.isRefusal(error) ? 'credit_limit' : 'error';
      }
    }
    this.delivered = after;
    return 'ok';
  }

  private lease(lease: HoldLease): void {
    const at = Date.parse(lease.expiresAt);
    const now = this.port.now();
    if (!Number.isFinite(at)) return;
    if (this.firstLease === 0) this.firstLease = Math.max(0, at - now);
    this.expiresAt = at;
  }

  /** Settles once: what was delivered (input included), or nothing when no chunk went out. */
  private async finish(stop: StopReason, units = this.units): Promise<StreamUsage> {
    if (this.finished) return this.result!;
    this.finished = true;
    let creditsConsumed: number | null = 0;
    if (this.started || stop === 'complete') {
      creditsConsumed = (await this.port.settle(units, stop)).creditsConsumed;
    } else {
      // Nothing reached the client (refused, failed or gone before the first chunk): not charged.
      await this.port.release();
      units = {};
    }
    this.result = { creditsConsumed, units, stopReason: stop };
    this.told();
    return this.result;
  }

  private told(): void {
    try {
      this.metering.onUsage?.(this.result!);
    } catch {
      // The host's callback must not break the stream's settlement.
    }
  }

  private async disconnected(iterator: AsyncIterator<C>): Promise<void> {
    if (this.finished || this.disconnectHandled) return;
    this.disconnectHandled = true;
    const policy = this.metering.onDisconnect ?? 'bill-delivered';
    try {
      if (policy === 'bill-all') {
        // The upstream's work is paid work: let it finish, counting and holding as it goes (never past what
        // can be held: a refusal ends it there).
        for (;;) {
          let next: IteratorResult<C>;
          try {
            next = await (this.inFlight ?? iterator.next());
            this.inFlight = undefined;
          } catch {
            break;
          }
          if (next.done) break;
          const admitted = await this.admit(next.value);
          if (admitted !== 'ok' && admitted !== 'skip') break;
        }
        await this.finish('client_disconnect');
        return;
      }
      // Cancelled: not awaited, a handler between two chunks answers the return only at its next one.
      void Promise.resolve(iterator.return?.()).catch(() => undefined);
      if (policy === 'void') {
        this.finished = true;
        this.result = { creditsConsumed: 0, units: {}, stopReason: 'client_disconnect' };
        await this.port.release();
        this.told();
        return;
      }
      await this.finish('client_disconnect');
    } catch {
      // Settling after the client left has nobody to tell: the hold's expiry gives it back at the latest.
      this.finished = true;
    }
  }
}

function sameUnits(a: Units, b: Units): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

/** One Server-Sent Event: `data:` with the chunk's JSON (a string as it is), or a named event. */
export function sseEvent(data: unknown, event?: string): string {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  const lines = text.split(/\r?\n/).map((l) => `data: ${l}`).join('\n');
  return `${event ? `event: ${event}\n` : ''}${lines}\n\n`;
}

/** The part of an rxjs Observable the protocol needs (no rxjs import here: each side brings its own copy). */
export interface SubscribableLike<T> {
  subscribe(observer: { next: (value: T) => void; error: (error: unknown) => void; complete: () => void }): { unsubscribe(): void };
}

/**
 * The handler's result as one stream of chunks: an Observable's values, where a value that is itself a
 * stream (an AsyncIterable: an async generator, a Node Readable) is read through. Strings and bytes are
 * chunks, not streams. Closing the iterator unsubscribes (and so cancels the handler's work).
 */
export async function* chunksOf<C>(source: SubscribableLike<unknown>): AsyncGenerator<C, void, undefined> {
  const queue: unknown[] = [];
  let done = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const signal = () => {
    wake?.();
    wake = undefined;
  };
  const subscription = source.subscribe({
    next: (v) => {
      queue.push(v);
      signal();
    },
    error: (error) => {
      failure = { error };
      signal();
    },
    complete: () => {
      done = true;
      signal();
    },
  });
  try {
    for (;;) {
      if (queue.length > 0) {
        const value = queue.shift();
        if (isAsyncIterable(value)) yield* value as AsyncIterable<C>;
        else yield value as C;
        continue;
      }
      if (failure) throw failure.error;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    subscription.unsubscribe();
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function' && !(value instanceof Uint8Array);
}

/** The metered items as the bytes of an SSE answer: chunks as `data:` events (text as it is), then `event: usage`. */
export async function* sseOf<C>(items: AsyncIterable<MeteredItem<C>>): AsyncGenerator<string | Uint8Array, void, undefined> {
  for await (const item of items) {
    if (item.kind === 'usage') yield sseEvent(item.usage, 'usage');
    else if (typeof item.chunk === 'string' || item.chunk instanceof Uint8Array) yield item.chunk;
    else yield sseEvent(item.chunk);
  }
}

/** Something with a close event: a Node ServerResponse (Express), or a Fastify reply (`raw`). */
interface Closable {
  on(event: 'close', listener: () => void): unknown;
  writableFinished?: boolean;
  getMaxListeners?(): number;
  setMaxListeners?(n: number): unknown;
}

/**
 * A streamed response carries 11 `close` listeners on Fastify (Node's, Fastify's, the logger's and the
 * metrics', the stream pipe's, this watch, and one more when Nest awaits the reply), whatever the stream's
 * length: one past Node's default warning threshold of 10. Raised for these responses only.
 */
const STREAMED_RESPONSE_MAX_LISTENERS = 20;

/** Calls `gone` when the response closes before it was finished: the client went away. */
export function whenClosed(response: unknown, gone: () => void): void {
  const raw = ((response as { raw?: unknown }).raw ?? response) as Partial<Closable>;
  if (typeof raw?.on !== 'function') return;
  if (typeof raw.getMaxListeners === 'function' && typeof raw.setMaxListeners === 'function' && raw.getMaxListeners() < STREAMED_RESPONSE_MAX_LISTENERS) {
    raw.setMaxListeners(STREAMED_RESPONSE_MAX_LISTENERS);
  }
  raw.on('close', () => {
    if (!raw.writableFinished) gone();
  });
}
