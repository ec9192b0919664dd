import { connect, createInbox, headers, type Msg, type NatsConnection, nanos, type Subscription } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
  type StreamState,
} from '@nats-io/jetstream';
import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { Clock, SystemClock } from '../../common/clock/clock';
import type { AppConfig, NatsConfig } from '../../config/app-config';
import { DomainError } from '../../common/errors/domain-error';
import { ClaimedBatch, IngestLag, IngestMessage, IngestQueue } from './ingest-queue.types';

export interface JetStreamIngestOptions {
  /** NATS servers (any node of a cluster will do: the client learns the others). */
  servers: string[];
  /** Stream name, e.g. METERING_INGEST. */
  stream: string;
  /** Subjects are `<subjectPrefix>.<organization>`; the stream binds `<subjectPrefix>.>`. */
  subjectPrefix: string;
  /** The durable pull consumer every instance's drainers share. */
  consumer: string;
  /** 1 on a single node, 3 (or 5) on a cluster: how many nodes hold every message. */
  replicas: number;
  /** A publish with a Nats-Msg-Id seen within this window is dropped by the stream (a retried append). */
  duplicateWindowSeconds: number;
  /** Bounds of what waits (claimed or not): over them an append is refused with INGEST_QUEUE_FULL. */
  maxMessages: number;
  maxBytes: number;
  /** Refuse appends while the oldest waiting message is older than this (0: no age bound). */
  maxAgeSeconds: number;
  /** A claimed message not acknowledged within this is delivered again (the consumer's ack_wait). */
  leaseSeconds: number;
  /** Claimed and not yet acknowledged messages, all instances together (the consumer's max_ack_pending). */
  maxAckPending: number;
  /** How long one publish (and an ack confirmation, a claim) may wait for the server. */
  requestTimeoutMs?: number;
  /** How long a nacked message waits before it is delivered again. */
  nackDelayMs?: number;
  /** The seconds a refused client is told to wait (Retry-After). */
  retryAfterSeconds?: number;
  connectionName?: string;
}

export const JETSTREAM_INGEST_DEFAULTS = {
  stream: 'METERING_INGEST',
  subjectPrefix: 'metering.ingest',
  consumer: 'metering-drainers',
  replicas: 1,
  duplicateWindowSeconds: 120,
  leaseSeconds: 30,
  maxAckPending: 20_000,
} as const;

/** The queue's options from the validated configuration (the ingest module calls this when NATS_URL is set). */
export function jetStreamOptionsFrom(config: AppConfig & { nats: NatsConfig }): JetStreamIngestOptions {
  return {
    ...config.nats,
    maxMessages: config.ingestMaxMessages,
    maxBytes: config.ingestMaxBytes,
    maxAgeSeconds: config.ingestMaxAgeSeconds,
    leaseSeconds: config.ingestLeaseSeconds,
  };
}

/** How often the stream's state (what waits, the oldest message's time) is read for the bounds checks. */
const STATE_REFRESH_MS = 1_000;
/** The least time between two attempts to re-create a missing stream or consumer. */
const HEAL_INTERVAL_MS = 5_000;
/** A message's stream overhead beyond its payload (subject, Nats-Msg-Id header, sequence, time): for the bytes pre-check only. */
const MESSAGE_OVERHEAD_BYTES = 128;
/** JetStream's API error when a `discard: new` stream is at a limit (JSStreamStoreFailedF). */
const STREAM_STORE_FAILED = 10077;

/**
 * Subject token of an organization. Subject tokens cannot hold `.`, `*`, `>` or white space; identifiers made
 * of letters, digits, `-` and `_` (UUIDs, slugs) pass unchanged, anything else is base64url-encoded after a
 * `=` (which no plain identifier starts with), so two organizations never share a subject.
 */
export function organizationToken(organizationId: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(organizationId)) return organizationId;
  return `=${Buffer.from(organizationId, 'utf8').toString('base64url')}`;
}

/** The message a publish of `append` wrote, or undefined for anything else found on the subject. */
export function decodeMessage(text: string): IngestMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const m = value as Partial<IngestMessage> | null;
  const ok =
    typeof m === 'object' &&
    m !== null &&
    typeof m.id === 'string' &&
    typeof m.enqueuedAt === 'string' &&
    typeof m.input === 'object' &&
    m.input !== null &&
    typeof m.input.organizationId === 'string' &&
    typeof m.input.eventType === 'string';
  return ok ? (m as IngestMessage) : undefined;
}

/** A publish the stream refused or never confirmed; `errCode` is JetStream's err_code when it answered. */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly errCode?: number,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

function isStoreFull(error: unknown): boolean {
  if (error instanceof PublishError && error.errCode === STREAM_STORE_FAILED) return true;
  return error instanceof Error && /maximum (messages|bytes) exceeded/i.test(error.message);
}

interface PendingPublish {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * The ingest queue on a NATS JetStream stream (when NATS_URL is set).
 *
 * - The stream has work-queue retention: a message stays until a drainer acknowledges it, so the stream's
 *   state is exactly what waits (claimed or not), and its limits (messages, bytes) with `discard: new` are
 *   the queue's bounds: a full stream refuses the publish instead of dropping old events. The stream has
 *   no max_age: JetStream would DELETE unacknowledged events older than it; the age bound refuses appends
 *   instead (checked here against the oldest waiting message).
 * - `append` publishes every message with `Nats-Msg-Id` = the message id and resolves only when every
 *   publish acknowledgement arrived (the message is on disk on a majority of the replicas). JetStream's
 *   publish is per message: if one fails the call throws (the caller answers 503, never 2xx) and the others
 *   may be stored; the client's retry republishes the same ids, which the duplicate window drops, and past
 *   the window the ledger's idempotency key makes the second copy harmless.
 * - `claim` is a pull from one durable consumer shared by every instance (explicit acks, ack_wait = the
 *   claim lease): a message is held by one drainer at a time, and delivered again after nack or lease expiry.
 */
export class JetStreamIngestQueue extends IngestQueue implements OnModuleDestroy {
  readonly kind = 'jetstream' as const;
  private readonly logger = new Logger('JetStreamIngestQueue');
  private readonly requestTimeoutMs: number;
  private state?: { read: number; state: StreamState };
  private stateRead?: Promise<StreamState>;
  private lastHeal = 0;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  /**
   * Publish acknowledgements come to `<ackInbox>.<token>`, one subscription for all. The client's
   * `js.publish` (a request with its own timer and reply handling per message) cost 5 to 10 times the CPU
   * per event on this path (measured: about 50 to 100 µs against 8 to 10 µs), and appends are the hot path
   * of every asynchronous call.
   */
  private readonly ackInbox = createInbox();
  private readonly pending = new Map<string, PendingPublish>();
  private nextToken = 0;
  private readonly ackSubscription: Subscription;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly options: JetStreamIngestOptions,
    private readonly clock: Clock,
  ) {
    super();
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.ackSubscription = nc.subscribe(`${this.ackInbox}.*`, { callback: (error, msg) => this.onPublishAck(error, msg) });
  }

  /** Connects, then creates (or brings up to date) the stream and the consumer: safe on every instance at once. */
  static async connect(options: JetStreamIngestOptions, clock: Clock = new SystemClock()): Promise<JetStreamIngestQueue> {
    const nc = await connect({
      servers: options.servers,
      name: options.connectionName ?? 'credit-metering',
      // A node restart or a leader move is a pause, not an outage: keep reconnecting for as long as it takes.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: options.requestTimeoutMs ?? 5_000,
    });
    try {
      const jsm = await jetstreamManager(nc, { timeout: options.requestTimeoutMs ?? 5_000 });
      const queue = new JetStreamIngestQueue(nc, jsm, options, clock);
      await queue.ensureStream();
      await queue.ensureConsumer();
      return queue;
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  subjectOf(organizationId: string): string {
    return `${this.options.subjectPrefix}.${organizationToken(organizationId)}`;
  }

  async append(messages: IngestMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const payloads = messages.map((message) => this.encoder.encode(JSON.stringify(message)));
    const bytes = payloads.reduce((sum, payload) => sum + payload.length + MESSAGE_OVERHEAD_BYTES, 0);
    // Refuse up front what clearly would not fit, so a full queue stores none of a batch rather than a part.
    await this.checkBounds(messages.length, bytes);
    const results = await this.publishAll(messages, payloads);
    const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failures.length === 0) {
      // Count them into the cached state until the next read, so the next append's pre-check sees them.
      if (this.state) this.state.state = { ...this.state.state, messages: this.state.state.messages + messages.length, bytes: this.state.state.bytes + bytes };
      return;
    }
    this.state = undefined;
    if (failures.some((failure) => isStoreFull(failure.reason))) throw this.full('the stream is full');
    this.heal();
    const reason = failures[0].reason instanceof Error ? failures[0].reason.message : String(failures[0].reason);
    this.logger.warn(`${failures.length} of ${messages.length} publishes failed: ${reason}`);
    throw this.unavailable();
  }

  async claim(max: number): Promise<ClaimedBatch | null> {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`claim(max): max must be a positive integer (got ${max})`);
    const delivered = await this.pull(max).catch((error: unknown) => {
      this.heal();
      throw error;
    });
    if (delivered.length === 0) return null;
    const messages: IngestMessage[] = [];
    const held: Msg[] = [];
    for (const msg of delivered) {
      const message = decodeMessage(this.decoder.decode(msg.data));
      if (message) {
        messages.push({ ...message, deliveryId: deliveryIdOf(msg.reply!) });
        held.push(msg);
      } else {
        // Not an event this service wrote (someone published on the subject by hand): it can never be
        // charged, and delivering it forever would hold a slot of max_ack_pending. Terminate it.
        this.logger.error(`Terminating an undecodable message on ${msg.subject}`);
        msg.respond('+TERM');
      }
    }
    if (held.length === 0) return null;
    return {
      messages,
      ack: () => this.answerAll(held, '+ACK'),
      nack: () => {
        const delay = this.options.nackDelayMs ?? 0;
        return this.answerAll(held, delay > 0 ? `-NAK ${JSON.stringify({ delay: nanos(delay) })}` : '-NAK');
      },
    };
  }

  async lag(): Promise<IngestLag> {
    const state = await this.readState();
    return { waiting: state.messages, waitingBytes: state.bytes, oldestAgeMs: this.oldestAgeMs(state) };
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    this.ackSubscription.unsubscribe();
    for (const [token, publish] of this.pending) {
      this.pending.delete(token);
      publish.reject(new PublishError('the connection closed before the stream confirmed the publish'));
    }
    // drain: pending acks and publishes go out before the connection closes.
    await this.nc.drain().catch(() => this.nc.close());
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  private streamConfig(): Partial<StreamConfig> & { name: string } {
    return {
      name: this.options.stream,
      subjects: [`${this.options.subjectPrefix}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: this.options.replicas,
      discard: DiscardPolicy.New,
      max_msgs: this.options.maxMessages,
      max_bytes: this.options.maxBytes,
      max_age: 0,
      duplicate_window: nanos(this.options.duplicateWindowSeconds * 1000),
    };
  }

  private async ensureStream(): Promise<void> {
    const config = this.streamConfig();
    try {
      await this.jsm.streams.add(config);
    } catch (error) {
      // Created before with other settings (bounds, window, replicas changed in the environment): bring
      // them up to date. Retention and storage cannot change in place: that error stops the start.
      if (!(error instanceof JetStreamApiError) || !/already in use/i.test(error.message)) throw error;
      const { name, retention: _retention, storage: _storage, ...changeable } = config;
      await this.jsm.streams.update(name, changeable);
    }
  }

  private consumerConfig(): Partial<ConsumerConfig> {
    return {
      durable_name: this.options.consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.options.leaseSeconds * 1000),
      max_ack_pending: this.options.maxAckPending,
      deliver_policy: DeliverPolicy.All,
      // Never give up on an event: an unacknowledged one is delivered again until some drainer records it.
      max_deliver: -1,
      filter_subject: `${this.options.subjectPrefix}.>`,
    };
  }

  private async ensureConsumer(): Promise<void> {
    const config = this.consumerConfig();
    try {
      await this.jsm.consumers.add(this.options.stream, config);
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw error;
      await this.jsm.consumers.update(this.options.stream, this.options.consumer, {
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
        max_deliver: config.max_deliver,
      });
    }
  }

  /**
   * Publishes every message (Nats-Msg-Id = its id) and settles when each has its acknowledgement or failure,
   * or the request timeout passed (one timer for the whole call).
   */
  private async publishAll(messages: IngestMessage[], payloads: Uint8Array[]): Promise<PromiseSettledResult<void>[]> {
    const tokens: string[] = [];
    const settled = messages.map((message, i) => {
      const token = (this.nextToken++).toString(36);
      tokens.push(token);
      return new Promise<void>((resolve, reject) => {
        this.pending.set(token, { resolve, reject });
        const h = headers();
        h.set('Nats-Msg-Id', message.id);
        try {
          this.nc.publish(this.subjectOf(message.input.organizationId), payloads[i], { reply: `${this.ackInbox}.${token}`, headers: h });
        } catch (error) {
          // The connection is closed (or the payload is over the server's max_payload).
          this.pending.delete(token);
          reject(error instanceof Error ? error : new PublishError(String(error)));
        }
      });
    });
    const timer = setTimeout(() => {
      for (const token of tokens) {
        const publish = this.pending.get(token);
        if (!publish) continue;
        this.pending.delete(token);
        publish.reject(new PublishError('timeout: the stream did not confirm the publish'));
      }
    }, this.requestTimeoutMs);
    try {
      return await Promise.allSettled(settled);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A publish acknowledgement ({stream, seq, duplicate?}), a JetStream error ({error}), or a status (503: no stream). */
  private onPublishAck(error: Error | null, msg: Msg): void {
    if (error) return;
    const token = msg.subject.slice(this.ackInbox.length + 1);
    const publish = this.pending.get(token);
    if (!publish) return; // timed out already
    this.pending.delete(token);
    const code = msg.headers?.code ?? 0;
    if (code >= 300) return publish.reject(new PublishError(code === 503 ? 'no stream answers on this subject' : `publish answered ${code}`));
    let ack: { stream?: string; error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = JSON.parse(this.decoder.decode(msg.data)) as typeof ack;
    } catch {
      return publish.reject(new PublishError('unreadable publish acknowledgement'));
    }
    if (ack.error) return publish.reject(new PublishError(ack.error.description ?? `error ${ack.error.code}`, ack.error.err_code));
    if (ack.stream !== this.options.stream) return publish.reject(new PublishError(`stored by stream ${ack.stream}, not ${this.options.stream}`));
    publish.resolve();
  }

  /**
   * One pull request with no_wait: the server sends what is available now (up to max) and then a status
   * (404 nothing, 408 fewer than asked). A fetch with `expires` would hold the drainer until `max` arrived.
   */
  private pull(max: number): Promise<Msg[]> {
    const inbox = createInbox();
    const delivered: Msg[] = [];
    return new Promise<Msg[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined = undefined;
      const subscription = this.nc.subscribe(inbox, {
        callback: (error, msg) => {
          if (error) return finish(error);
          // Events come with the consumer's ack subject as reply; anything else is a status that ends the pull.
          if (msg.reply?.startsWith('$JS.ACK.')) {
            delivered.push(msg);
            if (delivered.length >= max) finish();
          } else {
            const code = msg.headers?.code ?? 0;
            if (code !== 100) finish(code === 404 || code === 408 || code === 409 ? undefined : new Error(`pull answered ${code} ${msg.headers?.description ?? ''}`));
          }
        },
      });
      const finish = (error?: Error): void => {
        if (timer) clearTimeout(timer);
        subscription.unsubscribe();
        // Messages already delivered are held by this drainer's lease: hand them over even if the pull
        // ended badly, else they would only come back after ack_wait.
        if (error && delivered.length === 0) reject(error);
        else resolve(delivered);
      };
      timer = setTimeout(() => finish(), this.requestTimeoutMs);
      this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.options.stream}.${this.options.consumer}`, JSON.stringify({ batch: max, no_wait: true }), {
        reply: inbox,
      });
    });
  }

  /**
   * Acks (or nacks) every message, the last one as a request the server answers ("double ack"): acks travel
   * one connection in order to the consumer, so its answer means every earlier one was processed too. A
   * flush is not enough: the server queues acks for the consumer and answers the PING before it applies
   * them, so a pull right after a flushed nack could find nothing to deliver yet. A lost ack only means a
   * redelivery, which the ledger's idempotency key makes harmless.
   */
  private async answerAll(held: Msg[], verb: string): Promise<void> {
    const last = held[held.length - 1];
    for (const msg of held.slice(0, -1)) msg.respond(verb);
    await this.nc.request(last.reply!, verb, { timeout: this.requestTimeoutMs });
  }

  /**
   * After a failure that is not "full": make sure the stream and the consumer still exist (an operator removed
   * them, a single node lost its store), at most every few seconds and never in the caller's way. During a
   * cluster failover this fails too, harmlessly: the next failure tries again.
   */
  private heal(): void {
    const now = Date.now();
    if (now - this.lastHeal < HEAL_INTERVAL_MS || this.nc.isClosed()) return;
    this.lastHeal = now;
    void this.ensureStream()
      .then(() => this.ensureConsumer())
      .catch((error: unknown) => this.logger.warn(`Re-creating the stream and consumer failed: ${error instanceof Error ? error.message : String(error)}`));
  }

  private unavailable(): DomainError {
    return new DomainError('SERVICE_UNAVAILABLE', 'The ingest queue did not confirm the events; retry with the same idempotency keys', {
      retryAfterSeconds: this.options.retryAfterSeconds ?? 1,
    });
  }

  private full(why: string): DomainError {
    return new DomainError('INGEST_QUEUE_FULL', `The ingest queue is full (${why}); retry later`, {
      retryAfterSeconds: this.options.retryAfterSeconds ?? 1,
    });
  }

  private async checkBounds(count: number, bytes: number): Promise<void> {
    let state = await this.readState(STATE_REFRESH_MS).catch((error: unknown) => {
      this.logger.warn(`Reading the stream's state failed: ${error instanceof Error ? error.message : String(error)}`);
      this.heal();
      throw this.unavailable();
    });
    const wouldOverflow = (s: StreamState): string | undefined =>
      s.messages + count > this.options.maxMessages
        ? `${this.options.maxMessages} messages`
        : s.bytes + bytes > this.options.maxBytes
          ? `${this.options.maxBytes} bytes`
          : this.options.maxAgeSeconds > 0 && this.oldestAgeMs(s) > this.options.maxAgeSeconds * 1000
            ? `the oldest event waits for more than ${this.options.maxAgeSeconds} s`
            : undefined;
    if (wouldOverflow(state) === undefined) return;
    // The cached state may be up to a second old: drainers may have made room since. Look again before refusing.
    state = await this.readState(0).catch(() => {
      throw this.unavailable();
    });
    const why = wouldOverflow(state);
    if (why !== undefined) throw this.full(why);
  }

  private oldestAgeMs(state: StreamState): number {
    if (state.messages === 0) return 0;
    // An empty stream reports the zero time (0001-01-01) as its first message's; a state counted up from an
    // empty one (the appends since the last read) has no first time yet. Neither is an age: not refused for it.
    const first = Date.parse(state.first_ts);
    if (!Number.isFinite(first) || first <= 0) return 0;
    return Math.max(0, this.clock.now().getTime() - first);
  }

  /** The stream's state, at most `maxStaleMs` old; concurrent callers share one request. */
  private async readState(maxStaleMs = 0): Promise<StreamState> {
    const now = Date.now();
    if (this.state && now - this.state.read <= maxStaleMs) return this.state.state;
    this.stateRead ??= this.jsm.streams
      .info(this.options.stream)
      .then((info) => {
        this.state = { read: Date.now(), state: info.state };
        return info.state;
      })
      .finally(() => {
        this.stateRead = undefined;
      });
    return this.stateRead;
  }
}

/**
 * A delivered message's identity from its acknowledgement subject: the stream, the stream sequence and the
 * time the stream stored it. The same on every redelivery of the message; a message stored after the stream
 * was deleted and created again may reuse a sequence, never with the same store time. Both forms of the
 * subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` and the one with a domain
 * and an account hash after `ACK`.
 */
export function deliveryIdOf(reply: string): string {
  const tokens = reply.split('.');
  if (tokens.length === 9) tokens.splice(2, 0, '_', '');
  if (tokens.length < 11 || tokens[0] !== '$JS' || tokens[1] !== 'ACK') throw new Error(`not a JetStream acknowledgement subject: ${reply}`);
  return `${tokens[4]}:${tokens[7]}:${tokens[9]}`;
}
