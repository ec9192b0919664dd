import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ApiKeyResolver } from '../../common/auth/auth.guard';
import type { Principal } from '../../common/auth/principal';
import { Clock } from '../../common/clock/clock';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { ConfigChangeBus } from '../config-cache/config-change-bus';
import { ApiKeysRepository } from './api-keys.repository';
import { hashApiKey, keyHashesEqual, looksLikeApiKey } from './utils/api-key-secret';
import { ExpiringCache } from './utils/expiring-cache';
import { WriteThrottle } from './utils/write-throttle';

/** At most one `last_used_at` write per key per minute and instance (and the SQL skips a recent one). */
export const LAST_USED_WRITE_INTERVAL_SECONDS = 60;
const CACHE_MAX_ENTRIES = 10_000;

type OrganizationPrincipal = Extract<Principal, { kind: 'organization' }>;

/**
 * Turns a bearer token into an organization principal.
 *
 * Lookups are cached in-process (found and not found alike) for `apiKeyCacheTtlSeconds` (default 5 s), so
 * the hot path does not query the database on every request. A revocation evicts the key here at once and
 * travels to the other instances over the change bus (LISTEN/NOTIFY or Redis, as definition changes do),
 * which evict it when the message arrives, in milliseconds. The TTL stays as the bound for a lost message.
 */
@Injectable()
export class ApiKeyAuthenticator extends ApiKeyResolver implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ApiKeys');
  private readonly cache: ExpiringCache<OrganizationPrincipal | null>;
  private readonly inFlight = new Map<string, Promise<OrganizationPrincipal | undefined>>();
  private readonly lastUsed = new WriteThrottle(LAST_USED_WRITE_INTERVAL_SECONDS * 1000);
  private readonly pendingWrites = new Set<Promise<void>>();
  /** Bumped by every eviction: a lookup that started before one must not cache what it read. */
  private evictions = 0;

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly bus: ConfigChangeBus,
  ) {
    super();
    this.cache = new ExpiringCache(config.apiKeyCacheTtlSeconds * 1000, CACHE_MAX_ENTRIES);
  }

  onApplicationBootstrap(): void {
    this.bus.onChange((change) => {
      if (change.kind === 'api-key' && change.key) this.evictById(change.key);
    });
    // Revocations may have been missed while the subscription was down: trust nothing cached before.
    this.bus.onResubscribed(() => this.forgetAll());
  }

  /** After a revocation committed: forget the key here, then tell every other instance. */
  async revoked(key: { id: string; keyHash: string }): Promise<void> {
    this.evict(key.keyHash);
    await this.bus
      .publish({ kind: 'api-key', key: key.id })
      .catch((error: Error) => this.logger.warn(`Revocation of API key ${key.id} not broadcast (other instances refuse it within the key cache TTL): ${error.message}`));
  }

  /** A cached key is answered as a value (no promise: the guard then lets the request through synchronously). */
  resolve(token: string): Principal | undefined | Promise<Principal | undefined> {
    if (!looksLikeApiKey(token)) return undefined;
    const hash = hashApiKey(token);
    const cached = this.cache.lookup(hash);
    if (cached) return this.used(cached.value ?? undefined);
    return this.load(hash).then((principal) => this.used(principal));
  }

  private used(principal: OrganizationPrincipal | undefined): OrganizationPrincipal | undefined {
    if (principal) this.recordUse(principal);
    return principal;
  }

  /** Forgets a key on this instance (after a revocation). */
  evict(keyHash: string): void {
    this.evictions++;
    this.cache.delete(keyHash);
    this.inFlight.delete(keyHash);
  }

  /** Another instance revoked this key: the message names its id (never its secret or hash). */
  private evictById(id: string): void {
    this.evictions++;
    this.cache.deleteWhere((principal) => principal?.id === id);
    // A lookup in flight may have read the key as active; let the next request query again.
    this.inFlight.clear();
  }

  private forgetAll(): void {
    this.evictions++;
    this.cache.clear();
    this.inFlight.clear();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.pendingWrites]);
  }

  private load(hash: string): Promise<OrganizationPrincipal | undefined> {
    // Concurrent first requests with one key share one query.
    const running = this.inFlight.get(hash);
    if (running) return running;
    const epoch = this.evictions;
    const lookup = (async () => {
      const row = await this.keys.findActiveByHash(hash);
      // The index found the row by hash; compare again in constant time rather than trust the lookup alone.
      const principal: OrganizationPrincipal | undefined =
        row && keyHashesEqual(row.key_hash, hash)
          ? Object.freeze({ kind: 'organization' as const, id: row.id, organizationId: row.organization_id, scopes: Object.freeze([...row.scopes]) as OrganizationPrincipal['scopes'] })
          : undefined;
      // A revocation that happened while this query ran may have been read as "active": do not keep it.
      if (epoch === this.evictions) this.cache.set(hash, principal ?? null);
      return principal;
    })();
    this.inFlight.set(hash, lookup);
    const forget = () => {
      if (this.inFlight.get(hash) === lookup) this.inFlight.delete(hash);
    };
    lookup.then(forget, forget);
    return lookup;
  }

  /** Records the key's last use, off the request path and at most once a minute per key. */
  private recordUse(principal: OrganizationPrincipal): void {
    if (!this.lastUsed.take(principal.id)) return;
    const write = this.keys
      .touch(principal.organizationId, principal.id, this.clock.now(), LAST_USED_WRITE_INTERVAL_SECONDS)
      .catch((error: unknown) => this.logger.warn(`Could not record the last use of API key ${principal.id}: ${(error as Error)?.message}`))
      .finally(() => this.pendingWrites.delete(write));
    this.pendingWrites.add(write);
  }
}
