import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createClient } from 'redis';

export type RegistryKind = 'event' | 'plan';
/** What the bus carries: definition changes, and API key revocations (`key` is the key's id, never its secret or hash). */
export type ChangeKind = RegistryKind | 'api-key';

/** "This definition changed" (or, without a key, "reload everything of this kind"); "this API key was revoked". */
export interface ConfigChange {
  kind: ChangeKind;
  key?: string;
  origin: string;
}

const CHANNEL = 'metering_config_changes';

/**
 * Carries definition changes and key revocations to every instance, so they take effect everywhere at once
 * instead of after the cache TTL. The TTL stays as the fallback for a lost message.
 */
export abstract class ConfigChangeBus {
  /** Identifies this instance: it applies its own changes directly and ignores their echo. */
  readonly instanceId = randomUUID();
  private readonly handlers: Array<(change: ConfigChange) => void> = [];
  private readonly reconnectHandlers: Array<() => void> = [];

  abstract start(): Promise<void>;
  abstract publish(change: Omit<ConfigChange, 'origin'>): Promise<void>;
  abstract stop(): Promise<void>;
  abstract readonly transport: 'redis' | 'postgres' | 'local';

  onChange(handler: (change: ConfigChange) => void): void {
    this.handlers.push(handler);
  }

  /** Called after the subscription was lost and re-established: messages may have been missed. */
  onResubscribed(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  protected deliver(raw: string): void {
    let change: ConfigChange;
    try {
      change = JSON.parse(raw) as ConfigChange;
    } catch {
      return;
    }
    if (change.origin === this.instanceId) return;
    for (const handler of this.handlers) handler(change);
  }

  protected resubscribed(): void {
    for (const handler of this.reconnectHandlers) handler();
  }

  protected encode(change: Omit<ConfigChange, 'origin'>): string {
    return JSON.stringify({ ...change, origin: this.instanceId });
  }
}

/** One process (the embedded database): nothing to tell anyone. */
export class LocalConfigChangeBus extends ConfigChangeBus {
  readonly transport = 'local' as const;
  async start(): Promise<void> {}
  async publish(): Promise<void> {}
  async stop(): Promise<void> {}
}

/** PostgreSQL LISTEN/NOTIFY on a dedicated connection (a pooled one could be handed to someone else). */
export class PostgresConfigChangeBus extends ConfigChangeBus {
  readonly transport = 'postgres' as const;
  private listener?: Client;
  private stopped = false;
  private readonly logger = new Logger('ConfigChangeBus');

  constructor(
    private readonly databaseUrl: string,
    private readonly notify: (channel: string, payload: string) => Promise<void>,
  ) {
    super();
  }

  async start(): Promise<void> {
    await this.connect(false);
  }

  private async connect(isReconnect: boolean): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl });
    client.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload) this.deliver(message.payload);
    });
    client.on('error', (error) => {
      this.logger.warn(`LISTEN connection lost (${error.message}); reconnecting`);
      void this.reconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
    if (isReconnect) this.resubscribed();
  }

  private async reconnect(): Promise<void> {
    const old = this.listener;
    this.listener = undefined;
    await old?.end().catch(() => undefined);
    for (let delay = 250; !this.stopped; delay = Math.min(delay * 2, 10_000)) {
      try {
        await this.connect(true);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }

  async publish(change: Omit<ConfigChange, 'origin'>): Promise<void> {
    await this.notify(CHANNEL, this.encode(change));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.listener?.end().catch(() => undefined);
  }
}

/** Redis pub/sub, when REDIS_URL is set (the subscriber needs a connection of its own). */
export class RedisConfigChangeBus extends ConfigChangeBus {
  readonly transport = 'redis' as const;
  private publisher?: ReturnType<typeof createClient>;
  private subscriber?: ReturnType<typeof createClient>;
  private readonly logger = new Logger('ConfigChangeBus');

  constructor(private readonly redisUrl: string) {
    super();
  }

  async start(): Promise<void> {
    const options = { url: this.redisUrl, socket: { connectTimeout: 3000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 5000) } };
    this.publisher = createClient(options);
    this.subscriber = createClient(options);
    for (const client of [this.publisher, this.subscriber]) {
      client.on('error', (error: Error) => this.logger.warn(`Redis: ${error.message}`));
    }
    let connectedOnce = false;
    this.subscriber.on('ready', () => {
      if (connectedOnce) this.resubscribed();
      connectedOnce = true;
    });
    await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
    await this.subscriber.subscribe(CHANNEL, (message: string) => this.deliver(message));
  }

  async publish(change: Omit<ConfigChange, 'origin'>): Promise<void> {
    await this.publisher?.publish(CHANNEL, this.encode(change));
  }

  async stop(): Promise<void> {
    await Promise.all([this.subscriber?.close().catch(() => undefined), this.publisher?.close().catch(() => undefined)]);
  }
}
