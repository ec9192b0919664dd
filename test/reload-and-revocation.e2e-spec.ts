import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import { FakeClock } from '../src/common/clock/clock';
import { ConfigChangeBus } from '../src/modules/config-cache/config-change-bus';
import type { ConfigChange } from '../src/modules/config-cache/config-change-bus';
import { EventRegistry } from '../src/modules/events/event-registry.service';
import { createOrganization, issueKey, revokeKey } from './utils/security-fixtures';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES, TestDatabase } from './utils/test-database';

/**
 * Issue 12, items 8 (a full reload must never move a definition back to an older version) and 10 (a
 * revocation travels over the change bus, so every instance refuses the key within a second).
 */

const FULL_EVENT_RELOAD = /FROM event_definitions\s*$/;
const ONE_EVENT_READ = /FROM event_definitions WHERE event_type = \$1$/;

interface Hold {
  /** Resolves once the held query has read its rows (they are in hand, not yet returned). */
  reached: Promise<void>;
  release(): void;
  restore(): void;
}

/**
 * Holds the first query of an instance matching `sql` (and `key`, the first parameter, when given) after
 * the database answered, until released: the read is done, its result not yet applied. Controls the
 * interleaving exactly, without sleeping.
 */
function holdQuery(t: TestApp, sql: RegExp, key?: string): Hold {
  let signal!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (signal = r));
  const released = new Promise<void>((r) => (release = r));
  const original = t.dataSource.query.bind(t.dataSource);
  let armed = true;
  const spy = jest.spyOn(t.dataSource, 'query').mockImplementation((async (query: string, parameters?: unknown[], runner?: unknown) => {
    const result = await (original as (q: string, p?: unknown[], r?: unknown) => Promise<unknown>)(query, parameters, runner);
    if (armed && sql.test(query.trim()) && (key === undefined || parameters?.[0] === key)) {
      armed = false;
      signal();
      await released;
    }
    return result;
  }) as never);
  return { reached, release, restore: () => spy.mockRestore() };
}

/** Waits (bounded) until the condition holds: for a bus message, which arrives when it arrives. */
async function within(ms: number, what: string, condition: () => boolean | Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > ms) throw new Error(`${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

const tracked = async (t: TestApp, org: string, eventType: string) => {
  const res = await t.http().post(`/api/organizations/${org}/usage/events`).set(ADMIN).send({ eventType }).expect(201);
  return res.body as { creditsConsumed: number; breakdown: { version: number } };
};

/**
 * A new key each run: the Redis store is shared by every test database (and by every earlier run for the
 * TTL), so a fixed key could be answered from a leftover entry instead of the database.
 */
const unseenKey = (name: string) => `${name}_${randomBytes(4).toString('hex')}`;

/** A definition that the instances' snapshots do not have (written straight into the database). */
async function insertUnseenEvent(t: TestApp, key: string): Promise<void> {
  await t.dataSource.query(
    `INSERT INTO event_definitions (event_type, category, is_active, version, config)
     SELECT $1, category, true, 1, config FROM event_definitions WHERE event_type = 'export_pdf'`,
    [key],
  );
}

describe('a full reload never moves a definition back (one instance)', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-11-15T12:00:00.000Z');
  let hold: Hold | undefined;

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterEach(() => {
    hold?.release();
    hold?.restore();
    hold = undefined;
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ['refresh-all', 'export_pdf', () => t.http().post('/api/admin/config').set(ADMIN).send({ type: 'cache', action: 'refresh-all' }).expect(200).then(() => undefined)],
    [
      'the TTL refresh',
      'visuals_planning',
      () => {
        clock.advance(301_000);
        t.app.get(EventRegistry).get('visuals_planning'); // expired: serves the held value, starts the refresh behind
        return t.app.get(EventRegistry).refresh(); // joins it
      },
    ],
  ])('a change that lands while %s runs is still served after it (%s)', async (_name, eventType, reload) => {
    const registry = t.app.get(EventRegistry);
    const before = registry.get(eventType)!;
    expect(before.version).toBe(1);
    const org = await createOrganization(t, 'reload');
    hold = holdQuery(t, FULL_EVENT_RELOAD);
    const reloading = reload();
    await hold.reached; // the reload has read the old version
    const price = before.config.baseCredits + 1;
    await t.http().patch(`/api/admin/events/${eventType}`).set(ADMIN).send({ baseCredits: price }).expect(200);
    expect(registry.get(eventType)?.version).toBe(before.version + 1);
    hold.release();
    await reloading;
    expect(registry.get(eventType)).toMatchObject({ version: before.version + 1, config: { baseCredits: price } });
    const charged = await tracked(t, org, eventType);
    expect(charged).toMatchObject({ creditsConsumed: price, breakdown: { version: before.version + 1 } });
  });

  it('keeps a key learnt while the reload ran, though the reload did not see it', async () => {
    const registry = t.app.get(EventRegistry);
    hold = holdQuery(t, FULL_EVENT_RELOAD);
    const reloading = registry.refresh();
    await hold.reached;
    await t.http().post('/api/admin/events').set(ADMIN).send({ eventType: 'learnt_meanwhile', displayName: 'Learnt', category: 'ai_analysis', baseCredits: 1 }).expect(201);
    hold.release();
    await reloading;
    expect(registry.get('learnt_meanwhile')?.version).toBe(1);
  });

  it('a lookup that read before a change does not put the old version in the shared cache', async () => {
    const registry = t.app.get(EventRegistry);
    const cache = t.app.get<Cache>(CACHE_MANAGER);
    const key = unseenKey('unseen_single');
    await insertUnseenEvent(t, key);
    expect(registry.get(key)).toBeUndefined();
    hold = holdQuery(t, ONE_EVENT_READ, key);
    const lookup = registry.find(key);
    await hold.reached; // read version 1 from the database
    await t.http().patch(`/api/admin/events/${key}`).set(ADMIN).send({ baseCredits: 7 }).expect(200);
    hold.release();
    await lookup;
    const shared = await cache.get<{ version: number }>(`catalog:event:${key}`);
    if (shared) expect(shared.version).toBe(2);
    expect(registry.get(key)?.version).toBe(2);
    // And the caller gets the newest version this instance holds, not the older one it happened to read.
    expect((await lookup)?.version).toBe(2);
  });
});

const describeOnPostgres = ON_POSTGRES ? describe : describe.skip;
const buses: Array<[string, string | undefined]> = [['PostgreSQL LISTEN/NOTIFY', undefined], ...(process.env.REDIS_URL ? [['Redis pub/sub', process.env.REDIS_URL] as [string, string]] : [])];

// PGlite is one process and LISTEN/NOTIFY does not cross its socket (STACK.md): two instances only on PostgreSQL.
describeOnPostgres('two instances on one PostgreSQL: a stale reload does not undo a change', () => {
  describe.each(buses)('%s', (_name, redisUrl) => {
    let database: TestDatabase;
    let a: TestApp;
    let b: TestApp;
    let hold: Hold | undefined;

    beforeAll(async () => {
      database = await createTestDatabase();
      a = await startTestApp({ database, config: { redisUrl } });
      b = await startTestApp({ database, config: { redisUrl } });
    });
    afterEach(() => {
      hold?.release();
      hold?.restore();
      hold = undefined;
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await database?.drop();
    });

    it("B's full reload read the old price; A's change reaches B before it finishes; B charges the new price", async () => {
      const registryB = b.app.get(EventRegistry);
      const before = registryB.get('export_pdf')!;
      const org = await createOrganization(a, 'reload2');
      hold = holdQuery(b, FULL_EVENT_RELOAD);
      const reloading = b.http().post('/api/admin/config').set(ADMIN).send({ type: 'cache', action: 'refresh-all' }).expect(200).then(() => undefined); // sent now, awaited below
      await hold.reached;
      const price = before.config.baseCredits + 1;
      await a.http().patch('/api/admin/events/export_pdf').set(ADMIN).send({ baseCredits: price }).expect(200);
      await within(1000, 'the invalidation on B', () => registryB.get('export_pdf')?.version === before.version + 1);
      hold.release();
      await reloading;
      expect(registryB.get('export_pdf')).toMatchObject({ version: before.version + 1, config: { baseCredits: price } });
      expect(await tracked(b, org, 'export_pdf')).toMatchObject({ creditsConsumed: price, breakdown: { version: before.version + 1 } });
    });

    it("B's lookup read the old version; A's change reaches B first; the shared cache does not get the old one", async () => {
      const registryB = b.app.get(EventRegistry);
      const key = unseenKey('unseen_two');
      await insertUnseenEvent(a, key);
      hold = holdQuery(b, ONE_EVENT_READ, key);
      const lookup = registryB.find(key);
      await hold.reached;
      await a.http().patch(`/api/admin/events/${key}`).set(ADMIN).send({ baseCredits: 7 }).expect(200);
      await within(1000, 'the invalidation on B', () => registryB.stats().invalidationsReceived > 0 && registryB.get(key)?.version === 2);
      hold.release();
      await lookup;
      // With Redis both instances read this store: an old version here would be served to a miss anywhere.
      for (const instance of [a, b]) {
        const shared = await instance.app.get<Cache>(CACHE_MANAGER).get<{ version: number }>(`catalog:event:${key}`);
        if (shared) expect(shared.version).toBe(2);
      }
    });
  });
});

describe('revocation (one instance)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ config: { apiKeyCacheTtlSeconds: 300 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a revoked key at once although the key cache TTL is 300 s', async () => {
    const org = await createOrganization(t, 'revoke1');
    const key = await issueKey(t, org, ['read']);
    await t.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(200); // cached
    await revokeKey(t, org, key.id);
    const refused = await t.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(401);
    expect(refused.body.error).toBe('UNAUTHORIZED');
  });
});

// PGlite is one process and LISTEN/NOTIFY does not cross its socket (STACK.md): two instances only on PostgreSQL.
describeOnPostgres('revocation across two instances on one PostgreSQL', () => {
  it.each(buses)('B refuses a key revoked through A within 1 s, with a 300 s key cache (%s)', async (_name, redisUrl) => {
    const database = await createTestDatabase();
    const config = { apiKeyCacheTtlSeconds: 300, redisUrl };
    const a = await startTestApp({ database, config });
    const b = await startTestApp({ database, config });
    try {
      const org = await createOrganization(a, 'revoke2');
      const key = await issueKey(a, org, ['read', 'track']);
      const other = await issueKey(a, org, ['read']);
      await b.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(200); // cached on B for 300 s
      await b.http().get(`/api/organizations/${org}/usage`).set(other.headers).expect(200);
      const messages: ConfigChange[] = [];
      b.app.get(ConfigChangeBus).onChange((change) => messages.push(change));
      await revokeKey(a, org, key.id);
      // Only the bus can explain a refusal here: B's cache entry would live for another 300 s.
      const elapsed = await within(1000, 'B refusing the revoked key', async () => (await b.http().get(`/api/organizations/${org}/usage`).set(key.headers)).status === 401);
      expect(elapsed).toBeLessThan(1000);
      expect(messages).toEqual([expect.objectContaining({ kind: 'api-key', key: key.id })]);
      const refused = await b.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(401);
      expect(refused.body.error).toBe('UNAUTHORIZED');
      await b.http().post(`/api/organizations/${org}/usage/events`).set(key.headers).send({ eventType: 'export_pdf' }).expect(401);
      // The message carries no secret, and the organization's other key still works on B.
      expect(JSON.stringify(messages)).not.toContain(key.key);
      await b.http().get(`/api/organizations/${org}/usage`).set(other.headers).expect(200);
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});
