import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { isDeepStrictEqual } from 'node:util';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../../common/clock/clock';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { ErrorCode } from '../../common/errors/error-codes';
import { MetricsService } from '../../common/metrics/metrics.service';
import { isPlainObject } from '../../common/validation/json-validators';
import type { AppConfig } from '../../config/app-config';
import { ConfigChangeBus, RegistryKind } from './config-change-bus';
import { deepMerge } from './deep-merge';

export interface DefinitionRecord<C> {
  key: string;
  config: C;
  isActive: boolean;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface DefinitionVersionView {
  version: number;
  action: string;
  actor: string;
  isActive: boolean;
  createdAt: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown>;
}

export interface RegistryStats {
  registry: string;
  hits: number;
  misses: number;
  entries: number;
  lastRefresh: string | null;
  ttlSeconds: number;
  invalidationsReceived: number;
  refreshes: number;
  transport: string;
}

interface Row {
  key: string;
  config: unknown;
  is_active: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** Fields the server owns: accepted in a body (so a GET can be sent back) and otherwise ignored. */
const SERVER_FIELDS = ['version', 'createdAt', 'updatedAt'];

/**
 * A versioned, cached registry of definitions (events or plans).
 *
 * Reads: an in-process snapshot (a Map) answers the hot path synchronously, never touching the database.
 * After the TTL the next read still gets the last good value while one refresh runs behind it. A key the
 * snapshot lacks is looked up in the shared cache-manager store (Redis when configured), then the database.
 *
 * Writes: one transaction locks the row, writes the new version and its immutable history entry; after
 * commit this instance reloads the key and tells the others through the change bus.
 */
/** What the API shows of a definition: its key field, its content, and the fields the server owns. */
export type DefinitionView<C, K extends string> = { [key in K]: string } & C & {
  isActive: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
};

export abstract class DefinitionRegistry<C, K extends string = string> implements OnApplicationBootstrap, OnModuleDestroy {
  protected abstract readonly kind: RegistryKind;
  protected abstract readonly table: string;
  protected abstract readonly keyColumn: string;
  /** The key's name in the API (`eventType`, `name`). */
  protected abstract readonly keyField: K;
  protected abstract readonly notFoundCode: ErrorCode;
  protected abstract validate(input: unknown, fallbackIsActive: boolean): { key: string; config: C; isActive: boolean };
  /** Columns kept beside the JSON document for filtering and sorting. */
  protected abstract indexColumns(config: C): Record<string, unknown>;
  /** What a definition created through the seed-compatible config surface gets for the fields it leaves out. */
  abstract newDefinitionDefaults(key: string, input: Record<string, unknown>): Record<string, unknown>;

  protected readonly logger = new Logger(this.constructor.name);
  private snapshot = new Map<string, DefinitionRecord<C>>();
  private loadedAtMs = 0;
  private lastRefresh: Date | null = null;
  private refreshInFlight?: Promise<void>;
  /** Keys remembered while a full reload runs: newer than (or absent from) what that reload read. */
  private rememberedDuringLoad?: Set<string>;
  /** Bumped by every per-key reload (an invalidation): a lookup that started before one must not fill the shared cache. */
  private keyReloads = 0;
  private timer?: NodeJS.Timeout;
  private counters = { hits: 0, misses: 0, invalidationsReceived: 0, refreshes: 0 };

  constructor(
    protected readonly dataSource: DataSource,
    private readonly cache: Cache,
    private readonly bus: ConfigChangeBus,
    private readonly clock: Clock,
    private readonly appConfig: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  private get ttlMs(): number {
    return this.appConfig.configCacheTtlSeconds * 1000;
  }

  private get cacheKeyPrefix(): string {
    return `catalog:${this.kind}:`;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh();
    this.bus.onChange((change) => {
      if (change.kind !== this.kind) return;
      this.counters.invalidationsReceived++;
      void (change.key ? this.reloadKey(change.key) : this.refresh()).catch((error: Error) => this.logger.warn(`Reload after invalidation failed: ${error.message}`));
    });
    this.bus.onResubscribed(() => void this.refresh().catch(() => undefined));
    // Automatic refresh even when nobody reads: an idle instance stays within one TTL of the database.
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.ttlMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  // ---- reads -------------------------------------------------------------------------------------------

  /** The hot path: synchronous, from memory. Undefined when the snapshot does not have the key. */
  get(key: string): DefinitionRecord<C> | undefined {
    this.refreshBehindIfStale();
    const record = this.snapshot.get(key);
    if (record) {
      this.counters.hits++;
      return record;
    }
    return undefined;
  }

  /** get(), else the shared cache store, else the database (a definition this instance has not seen yet). */
  async find(key: string): Promise<DefinitionRecord<C> | undefined> {
    const hit = this.get(key);
    if (hit) return hit;
    this.counters.misses++;
    this.metrics.cacheLookups.inc({ registry: this.kind, result: 'miss' });
    const shared = await this.cache.get<DefinitionRecord<C>>(this.cacheKeyPrefix + key).catch(() => undefined);
    if (shared) {
      const record = { ...shared, createdAt: new Date(shared.createdAt), updatedAt: new Date(shared.updatedAt) };
      this.remember(record);
      return record;
    }
    const epoch = this.keyReloads;
    const record = await this.loadOne(this.dataSource.manager, key);
    if (record) {
      this.remember(record);
      // A change invalidated while this read ran: what it read may be older than the database, and the
      // shared store would hand that older version to every instance until the TTL. Leave the store empty.
      if (epoch === this.keyReloads) {
        await this.cache.set(this.cacheKeyPrefix + key, record, this.ttlMs).catch(() => undefined);
        // The invalidation may also have arrived while the write was on its way (its delete went first).
        if (epoch !== this.keyReloads) await this.cache.del(this.cacheKeyPrefix + key).catch(() => undefined);
      }
    }
    return this.snapshot.get(key) ?? record;
  }

  async findOrThrow(key: string): Promise<DefinitionRecord<C>> {
    const record = await this.find(key);
    if (!record) throw new DomainError(this.notFoundCode, `${this.label} "${key}" does not exist`, { [this.keyField]: key });
    return record;
  }

  /** Every definition in the snapshot (inactive ones only when asked). */
  list(includeInactive = false): DefinitionRecord<C>[] {
    this.refreshBehindIfStale();
    return [...this.snapshot.values()].filter((r) => includeInactive || r.isActive).sort((a, b) => a.key.localeCompare(b.key));
  }

  /** The API shape: the key, the content, and the server-owned fields. */
  toView(record: DefinitionRecord<C>): DefinitionView<C, K> {
    return { [this.keyField]: record.key, ...(record.config as object), isActive: record.isActive, version: record.version, createdAt: record.createdAt.toISOString(), updatedAt: record.updatedAt.toISOString() } as DefinitionView<C, K>;
  }

  stats(): RegistryStats {
    return {
      registry: `${this.kind}s`,
      ...this.counters,
      entries: this.snapshot.size,
      lastRefresh: this.lastRefresh?.toISOString() ?? null,
      ttlSeconds: this.appConfig.configCacheTtlSeconds,
      transport: this.bus.transport,
    };
  }

  // ---- cache control -----------------------------------------------------------------------------------

  /** Reloads every definition from the database (one refresh at a time; callers share it). */
  refresh(): Promise<void> {
    this.refreshInFlight ??= this.loadAll().finally(() => {
      this.refreshInFlight = undefined;
    });
    return this.refreshInFlight;
  }

  /** Drops the snapshot and the shared entries, then reloads: the next reads see the database. */
  async clear(): Promise<void> {
    for (const key of this.snapshot.keys()) await this.cache.del(this.cacheKeyPrefix + key).catch(() => undefined);
    this.snapshot = new Map();
    this.loadedAtMs = 0;
    await this.refresh();
  }

  async reloadKey(key: string): Promise<void> {
    const epoch = ++this.keyReloads;
    await this.cache.del(this.cacheKeyPrefix + key).catch(() => undefined);
    const record = await this.loadOne(this.dataSource.manager, key);
    if (record) this.remember(record);
    // "Not there" from a read that a later reload overtook may predate the key's creation.
    else if (epoch === this.keyReloads) this.snapshot.delete(key);
  }

  private refreshBehindIfStale(): void {
    if (this.refreshInFlight || this.clock.now().getTime() - this.loadedAtMs < this.ttlMs) return;
    // Serve the last good value; one refresh runs behind. A failed refresh keeps the old snapshot.
    void this.refresh().catch((error: Error) => this.logger.warn(`Background refresh failed: ${error.message}`));
  }

  private remember(record: DefinitionRecord<C>): void {
    const current = this.snapshot.get(record.key);
    // Versions only move forward: a slow reload must not put back an older version.
    if (!current || current.version <= record.version) {
      this.snapshot.set(record.key, record);
      this.rememberedDuringLoad?.add(record.key);
    }
  }

  /**
   * Reads every definition and swaps the snapshot. The read is a moment in the past by the time it lands:
   * a change that committed meanwhile may already be in the snapshot (its invalidation was applied while
   * the read ran), so a definition never goes back to an older version than the one held, and a key
   * learnt during the read is kept although the read did not see it. Otherwise that instance would charge
   * the old price until its next TTL refresh.
   */
  private async loadAll(): Promise<void> {
    const learnt = new Set<string>();
    this.rememberedDuringLoad = learnt;
    let rows: Row[];
    try {
      rows = (await this.dataSource.query(this.selectSql(''))) as Row[];
    } finally {
      this.rememberedDuringLoad = undefined;
    }
    const next = new Map<string, DefinitionRecord<C>>();
    for (const row of rows) {
      const loaded = this.fromRow(row);
      const held = this.snapshot.get(loaded.key);
      next.set(loaded.key, held && held.version > loaded.version ? held : loaded);
    }
    for (const key of learnt) {
      const held = this.snapshot.get(key);
      if (held && !next.has(key)) next.set(key, held);
    }
    this.snapshot = next;
    this.loadedAtMs = this.clock.now().getTime();
    this.lastRefresh = this.clock.now();
    this.counters.refreshes++;
  }

  private async loadOne(manager: EntityManager, key: string, forUpdate = false): Promise<DefinitionRecord<C> | undefined> {
    const rows = (await manager.query(this.selectSql(`WHERE ${this.keyColumn} = $1${forUpdate ? ' FOR UPDATE' : ''}`), [key])) as Row[];
    return rows[0] ? this.fromRow(rows[0]) : undefined;
  }

  private selectSql(where: string): string {
    return `SELECT ${this.keyColumn} AS key, config, is_active, version, created_at, updated_at FROM ${this.table} ${where}`;
  }

  /** A stored config as the registry serves it (a kind may fill in fields older rows were written without). */
  protected normalizeConfig(config: C): C {
    return config;
  }

  /** The current definition a merge starts from, given the fields the change sends (a kind may drop some). */
  protected patchBase(base: Record<string, unknown>, _body: Record<string, unknown>): Record<string, unknown> {
    return base;
  }

  private fromRow(row: Row): DefinitionRecord<C> {
    return { key: row.key, config: this.normalizeConfig(row.config as C), isActive: row.is_active, version: row.version, createdAt: new Date(row.created_at), updatedAt: new Date(row.updated_at) };
  }

  // ---- writes ------------------------------------------------------------------------------------------

  private get label(): string {
    return this.kind === 'event' ? 'Event type' : 'Plan';
  }

  /** POST: a new definition; 409 when the key exists (active or not). */
  async create(input: unknown, actor: string): Promise<DefinitionRecord<C>> {
    const valid = this.validate(this.stripServerFields(input), true);
    return this.write(valid.key, actor, 'create', (current) => {
      if (current) throw new DomainError('ALREADY_EXISTS', `${this.label} "${valid.key}" already exists`, { [this.keyField]: valid.key });
      return valid;
    });
  }

  /** PUT: the whole definition, created when missing (an upsert). */
  async put(key: string, input: unknown, actor: string): Promise<DefinitionRecord<C>> {
    const body = this.withKey(key, input);
    return this.write(key, actor, 'update', (current) => this.validate(body, current?.isActive ?? true));
  }

  /** PATCH: the fields given, merged onto the current definition, then validated whole. */
  async patch(key: string, input: unknown, actor: string): Promise<DefinitionRecord<C>> {
    const body = this.withKey(key, input);
    return this.write(key, actor, 'update', (current) => {
      if (!current) throw new DomainError(this.notFoundCode, `${this.label} "${key}" does not exist`, { [this.keyField]: key });
      const base = this.patchBase(this.stripServerFields(this.toView(current)) as Record<string, unknown>, body as Record<string, unknown>);
      return this.validate(deepMerge(base, body), current.isActive);
    });
  }

  /**
   * The seed-compatible `update` action: merge onto the current definition, or create it (an upsert, SPEC
   * section 9), then with newDefinitionDefaults under what was given.
   */
  async upsertMerge(key: string, input: unknown, actor: string): Promise<DefinitionRecord<C>> {
    const body = this.withKey(key, input);
    return this.write(key, actor, 'update', (current) => {
      if (!current) return this.validate(deepMerge(this.newDefinitionDefaults(key, body), body), true);
      const base = this.patchBase(this.stripServerFields(this.toView(current)) as Record<string, unknown>, body as Record<string, unknown>);
      return this.validate(deepMerge(base, body), current.isActive);
    });
  }

  /** DELETE: deactivates; history and recorded events stay. */
  async deactivate(key: string, actor: string): Promise<DefinitionRecord<C>> {
    return this.write(key, actor, 'delete', (current) => {
      if (!current) throw new DomainError(this.notFoundCode, `${this.label} "${key}" does not exist`, { [this.keyField]: key });
      return { key, config: current.config, isActive: false };
    });
  }

  /** Makes an earlier version's content (and active flag) the new current version. */
  async rollback(key: string, version: unknown, actor: string): Promise<DefinitionRecord<C>> {
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) throw validationFailed({ version: ['version must be a whole number >= 1'] });
    return this.write(key, actor, 'rollback', async (current, manager) => {
      if (!current) throw new DomainError(this.notFoundCode, `${this.label} "${key}" does not exist`, { [this.keyField]: key });
      const rows = (await manager.query(`SELECT after, is_active FROM definition_versions WHERE kind = $1 AND key = $2 AND version = $3`, [this.kind, key, version])) as Array<{ after: C; is_active: boolean }>;
      if (!rows[0]) throw new DomainError('VERSION_NOT_FOUND', `${this.label} "${key}" has no version ${version}`, { [this.keyField]: key, version });
      // The stored content was valid when written; it is validated again against today's rules.
      return this.validate({ [this.keyField]: key, ...(rows[0].after as object), isActive: rows[0].is_active }, rows[0].is_active);
    });
  }

  async history(key: string): Promise<DefinitionVersionView[]> {
    await this.findOrThrow(key);
    const rows = (await this.dataSource.query(
      `SELECT version, action, actor, is_active, before, after, created_at FROM definition_versions WHERE kind = $1 AND key = $2 ORDER BY version DESC`,
      [this.kind, key],
    )) as Array<{ version: number; action: string; actor: string; is_active: boolean; before: Record<string, unknown> | null; after: Record<string, unknown>; created_at: Date }>;
    return rows.map((r) => ({ version: r.version, action: r.action, actor: r.actor, isActive: r.is_active, createdAt: new Date(r.created_at).toISOString(), before: r.before, after: r.after }));
  }

  private withKey(key: string, input: unknown): Record<string, unknown> {
    if (!isPlainObject(input)) throw validationFailed({ body: ['the body must be a JSON object'] });
    if (input[this.keyField] !== undefined && input[this.keyField] !== key) {
      throw validationFailed({ [this.keyField]: [`${this.keyField} in the body must match the path (${key})`] });
    }
    return { ...(this.stripServerFields(input) as Record<string, unknown>), [this.keyField]: key };
  }

  private stripServerFields(input: unknown): unknown {
    if (!isPlainObject(input)) return input;
    const copy = { ...input };
    for (const field of SERVER_FIELDS) delete copy[field];
    return copy;
  }

  /**
   * The one write path. The row is locked for the transaction, so two concurrent changes get consecutive
   * versions instead of one overwriting the other. An identical change writes no new version.
   */
  private async write(
    key: string,
    actor: string,
    action: string,
    decide: (current: DefinitionRecord<C> | undefined, manager: EntityManager) => { key: string; config: C; isActive: boolean } | Promise<{ key: string; config: C; isActive: boolean }>,
  ): Promise<DefinitionRecord<C>> {
    const changed = await this.dataSource.transaction(async (manager) => {
      const current = await this.loadOne(manager, key, true);
      const next = await decide(current, manager);
      if (current && current.isActive === next.isActive && isDeepStrictEqual(current.config, next.config)) return false;
      const columns = this.indexColumns(next.config);
      const names = Object.keys(columns);
      const values = Object.values(columns);
      const version = (current?.version ?? 0) + 1;
      if (!current) {
        const inserted = (await manager.query(
          `INSERT INTO ${this.table} (${this.keyColumn}, config, is_active, version${names.map((n) => `, ${n}`).join('')})
           VALUES ($1, $2, $3, 1${names.map((_, i) => `, $${i + 4}`).join('')}) ON CONFLICT DO NOTHING RETURNING ${this.keyColumn}`,
          [key, JSON.stringify(next.config), next.isActive, ...values],
        )) as unknown[];
        // Someone created it between our SELECT and INSERT (no row to lock yet): report, never overwrite.
        if (inserted.length === 0) throw new DomainError('CONFLICT', `${this.label} "${key}" was created concurrently; retry`);
      } else {
        await manager.query(
          `UPDATE ${this.table} SET config = $2, is_active = $3, version = $4, updated_at = now()${names.map((n, i) => `, ${n} = $${i + 5}`).join('')} WHERE ${this.keyColumn} = $1`,
          [key, JSON.stringify(next.config), next.isActive, version, ...values],
        );
      }
      await manager.query(
        `INSERT INTO definition_versions (kind, key, version, action, actor, is_active, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [this.kind, key, version, action, actor, next.isActive, current ? JSON.stringify(current.config) : null, JSON.stringify(next.config)],
      );
      return true;
    });
    // After commit: this instance first (the caller reads its own write), then every other instance.
    await this.reloadKey(key);
    if (changed) {
      await this.bus.publish({ kind: this.kind, key }).catch((error: Error) => this.logger.warn(`Change not broadcast (TTL refresh will catch up): ${error.message}`));
    }
    return (await this.find(key))!;
  }
}
