import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { ApiKeysRepository } from '../src/modules/api-keys/api-keys.repository';
import { MembershipPolicy } from '../src/modules/api-keys/membership-policy';
import { createOrganization, issueKey, revokeKey, uniqueClientIp } from './utils/security-fixtures';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';
import { createTestDatabase, ON_POSTGRES } from './utils/test-database';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('organization API keys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('shows a new key once (nxk_ + 32 random bytes) and stores only its SHA-256', async () => {
    const org = await createOrganization(t, 'keys');
    const res = await t.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: 'backend', scopes: ['read', 'track'] }).expect(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      organizationId: org,
      name: 'backend',
      scopes: ['track', 'read'],
      key: expect.stringMatching(/^nxk_[A-Za-z0-9_-]{43}$/),
      prefix: `${res.body.key.slice(0, 12)}…`,
      userId: null,
      createdAt: expect.any(String),
    });
    expect(Buffer.from(res.body.key.slice(4), 'base64url')).toHaveLength(32);
    const rows = await t.dataSource.query(`SELECT * FROM api_keys WHERE organization_id = $1`, [org]);
    expect(rows).toHaveLength(1);
    expect(rows[0].key_hash).toBe(sha256(res.body.key));
    // No column holds the key (or its secret part).
    expect(JSON.stringify(rows)).not.toContain(res.body.key.slice(12));

    const listed = await t.http().get(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).expect(200);
    expect(listed.body.items).toEqual([
      { id: res.body.id, organizationId: org, name: 'backend', scopes: ['track', 'read'], prefix: res.body.prefix, createdBy: 'admin', userId: null, createdAt: res.body.createdAt, lastUsedAt: null, revokedAt: null },
    ]);
    expect(listed.text).not.toContain(res.body.key.slice(12));
    const other = await t.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: 'backend', scopes: ['read'] }).expect(201);
    expect(other.body.key).not.toBe(res.body.key);
  });

  it('validates the request: scopes, name, unknown fields, unknown organization', async () => {
    const org = await createOrganization(t, 'keys');
    const bad = await t.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: '', scopes: ['track', 'admin'], extra: 1 }).expect(400);
    expect(Object.keys(bad.body.details.fields).sort()).toEqual(['extra', 'name', 'scopes']);
    for (const scopes of [[], 'track', ['track', 'track'], null]) {
      const res = await t.http().post(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).send({ name: 'x', scopes }).expect(400);
      expect(res.body.error).toBe('VALIDATION_FAILED');
    }
    const missing = await t.http().post('/api/admin/organizations/no-such-org/api-keys').set(ADMIN).send({ name: 'x', scopes: ['read'] }).expect(404);
    expect(missing.body.error).toBe('ORGANIZATION_NOT_FOUND');
  });

  it('GET /api/key tells a track key whose it is (all the client package needs), and refuses what cannot meter', async () => {
    const org = await createOrganization(t, 'keys');
    const trackOnly = await issueKey(t, org, ['track']);
    // The same answer on a replay; never the key's id or secret.
    for (let i = 0; i < 2; i++) {
      const res = await t.http().get('/api/key').set(trackOnly.headers).expect(200);
      expect(res.body).toEqual({ kind: 'organization', organizationId: org, scopes: ['track'] });
      expect(res.text).not.toContain(trackOnly.id);
    }
    await t.http().get('/api/key').set(ADMIN).expect(200, { kind: 'admin' });
    const readOnly = await issueKey(t, org, ['read']);
    const forbidden = await t.http().get('/api/key').set(readOnly.headers).expect(403);
    expect(forbidden.body).toMatchObject({ error: 'FORBIDDEN', message: 'This API key lacks the scope track' });
    await t.http().get('/api/key').expect(401);
    await revokeKey(t, org, trackOnly.id);
    await t.http().get('/api/key').set(trackOnly.headers).expect(401);
    // A track-only key can meter its organization: the routes the client package calls need nothing more.
    const metering = await issueKey(t, org, ['track']);
    await t.http().post(`/api/organizations/${org}/usage/check`).set(metering.headers).send({ eventType: 'visuals_planning', eventData: { complexity: 1 } }).expect(200);
  });

  it('lets a key reach its own organization with the right scope only', async () => {
    const org = await createOrganization(t, 'keys');
    const tracker = await issueKey(t, org, ['track']);
    const reader = await issueKey(t, org, ['read']);
    const tracked = await t.http().post(`/api/organizations/${org}/usage/events`).set(tracker.headers).send({ eventType: 'push_sow_to_loe' }).expect(201);
    expect(tracked.body.creditsConsumed).toBe(1);
    const forbidden = await t.http().get(`/api/organizations/${org}/usage`).set(tracker.headers).expect(403);
    expect(forbidden.body).toEqual({ statusCode: 403, error: 'FORBIDDEN', message: 'This API key lacks the scope read', details: { requiredScopes: ['read'] } });
    await t.http().post(`/api/organizations/${org}/usage/events`).set(reader.headers).send({ eventType: 'push_sow_to_loe' }).expect(403);
    const summary = await t.http().get(`/api/organizations/${org}/usage`).set(reader.headers).expect(200);
    expect(summary.body.used).toBe(1);
  });

  it("answers another organization's resources exactly like an unknown organization (404)", async () => {
    const mine = await createOrganization(t, 'keys');
    const theirs = await createOrganization(t, 'keys');
    const key = await issueKey(t, mine, ['track', 'read', 'manage']);
    const foreign = await t.http().get(`/api/organizations/${theirs}/usage`).set(key.headers).expect(404);
    const unknown = await t.http().get(`/api/organizations/${theirs}x/usage`).set(key.headers).expect(404);
    const byAdmin = await t.http().get(`/api/organizations/${theirs}x/usage`).set(ADMIN).expect(404);
    const normalize = (body: Record<string, unknown>, id: string) => JSON.parse(JSON.stringify(body).split(id).join('<org>'));
    expect(normalize(foreign.body, theirs)).toEqual(normalize(unknown.body, `${theirs}x`));
    expect(normalize(unknown.body, `${theirs}x`)).toEqual(normalize(byAdmin.body, `${theirs}x`));
    expect(foreign.body.error).toBe('ORGANIZATION_NOT_FOUND');
    // Nothing was written for the other organization.
    await t.http().post(`/api/organizations/${theirs}/usage/events`).set(key.headers).send({ eventType: 'push_sow_to_loe' }).expect(404);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = $1`, [theirs]);
    expect(n).toBe(0);
    // Naming another organization in X-Organization-Id is the same 404.
    const header = await t.http().get(`/api/organizations/${mine}/usage`).set(key.headers).set('X-Organization-Id', theirs).expect(404);
    expect(header.body.error).toBe('ORGANIZATION_NOT_FOUND');
    await t.http().get(`/api/organizations/${mine}/usage`).set(key.headers).set('X-Organization-Id', mine).expect(200);
  });

  it('refuses organization keys on admin-only routes with 401', async () => {
    const org = await createOrganization(t, 'keys');
    const key = await issueKey(t, org, ['track', 'read', 'manage']);
    for (const path of ['/api/admin/config', `/api/admin/organizations/${org}`, `/api/admin/organizations/${org}/api-keys`]) {
      const res = await t.http().get(path).set(key.headers).expect(401);
      expect(res.body).toEqual({ statusCode: 401, error: 'UNAUTHORIZED', message: 'This route needs the admin API key' });
    }
    await t.http().post(`/api/admin/organizations/${org}/api-keys`).set(key.headers).send({ name: 'escalate', scopes: ['manage'] }).expect(401);
  });

  it('revokes at once; a repeated DELETE answers the same; unknown ids are 404', async () => {
    const org = await createOrganization(t, 'keys');
    const key = await issueKey(t, org, ['read']);
    await t.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(200);
    const first = await t.http().delete(`/api/admin/organizations/${org}/api-keys/${key.id}`).set(ADMIN).expect(200);
    expect(first.body).toMatchObject({ id: key.id, revokedAt: expect.any(String) });
    const refused = await t.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(401);
    expect(refused.body).toEqual({ statusCode: 401, error: 'UNAUTHORIZED', message: 'Invalid or revoked API key' });
    const again = await t.http().delete(`/api/admin/organizations/${org}/api-keys/${key.id}`).set(ADMIN).expect(200);
    // The last use is written after the answer of the request that used the key (at most once a minute), so
    // under load it may land between the two DELETEs: everything else must be word for word the same.
    expect({ ...again.body, lastUsedAt: null }).toEqual({ ...first.body, lastUsedAt: null });
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', "1' OR '1'='1"]) {
      const res = await t.http().delete(`/api/admin/organizations/${org}/api-keys/${encodeURIComponent(id)}`).set(ADMIN).expect(404);
      expect(res.body.error).toBe('API_KEY_NOT_FOUND');
    }
    // A key id of another organization is not found through this one.
    const otherOrg = await createOrganization(t, 'keys');
    const otherKey = await issueKey(t, otherOrg, ['read']);
    await t.http().delete(`/api/admin/organizations/${org}/api-keys/${otherKey.id}`).set(ADMIN).expect(404);
    await t.http().get(`/api/organizations/${otherOrg}/usage`).set(otherKey.headers).expect(200);
  });

  it('lets a manage key list and revoke its own organization\'s keys, and only those', async () => {
    const org = await createOrganization(t, 'keys');
    const manager = await issueKey(t, org, ['manage']);
    const victim = await issueKey(t, org, ['track']);
    const listed = await t.http().get(`/api/organizations/${org}/api-keys`).set(manager.headers).expect(200);
    expect(listed.body.items.map((k: { id: string }) => k.id).sort()).toEqual([manager.id, victim.id].sort());
    expect(listed.text).not.toMatch(/nxk_[A-Za-z0-9_-]{43}/);
    await t.http().delete(`/api/organizations/${org}/api-keys/${victim.id}`).set(manager.headers).expect(200);
    await t.http().post(`/api/organizations/${org}/usage/events`).set(victim.headers).send({ eventType: 'push_sow_to_loe' }).expect(401);
    const reader = await issueKey(t, org, ['read', 'track']);
    await t.http().get(`/api/organizations/${org}/api-keys`).set(reader.headers).expect(403);
  });

  it('records the last use, writing at most once a minute per key', async () => {
    const org = await createOrganization(t, 'keys');
    const key = await issueKey(t, org, ['read']);
    for (let i = 0; i < 5; i++) await t.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(200);
    let lastUsedAt: string | null = null;
    for (let i = 0; i < 50 && !lastUsedAt; i++) {
      const listed = await t.http().get(`/api/admin/organizations/${org}/api-keys`).set(ADMIN).expect(200);
      lastUsedAt = listed.body.items[0].lastUsedAt;
      if (!lastUsedAt) await new Promise((r) => setTimeout(r, 20));
    }
    expect(lastUsedAt).toEqual(expect.any(String));
    // More uses within the minute do not move it (the write is throttled).
    await t.dataSource.query(`UPDATE api_keys SET last_used_at = '2020-01-01T00:00:00Z' WHERE id = $1`, [key.id]);
    for (let i = 0; i < 5; i++) await t.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(200);
    await new Promise((r) => setTimeout(r, 50));
    const [row] = await t.dataSource.query(`SELECT last_used_at FROM api_keys WHERE id = $1`, [key.id]);
    expect(new Date(row.last_used_at).toISOString()).toBe('2020-01-01T00:00:00.000Z');
  });

  it('looks a key up in the database once, then serves it from the in-process cache', async () => {
    const org = await createOrganization(t, 'keys');
    const key = await issueKey(t, org, ['read']);
    const repository = t.app.get(ApiKeysRepository);
    const original = repository.findActiveByHash.bind(repository);
    let lookups = 0;
    repository.findActiveByHash = async (hash: string) => {
      lookups++;
      return original(hash);
    };
    try {
      await Promise.all(Array.from({ length: 20 }, () => t.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(200)));
      // An unknown key is remembered too, so a flood of one bad key does not reach the database each time.
      const bogus = { Authorization: `Bearer nxk_${'A'.repeat(43)}` };
      for (let i = 0; i < 5; i++) await t.http().get(`/api/organizations/${org}/usage`).set(bogus).expect(401);
      expect(lookups).toBe(2);
    } finally {
      repository.findActiveByHash = original;
    }
  });

  it('sends security headers everywhere and keeps the API docs working', async () => {
    const res = await t.http().get('/health').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(res.headers['x-powered-by']).toBeUndefined();
    const denied = await t.http().get('/api/admin/config').expect(401);
    expect(denied.headers['x-content-type-options']).toBe('nosniff');
    const docs = await t.http().get('/api/docs').expect(200);
    expect(docs.headers['content-type']).toMatch(/text\/html/);
    // Swagger UI loads only same-origin scripts, which the CSP allows.
    expect(docs.text).not.toMatch(/<script>(?!\s*<\/script>)/);
    await t.http().get('/api/docs/swagger-ui-init.js').expect(200);
    await t.http().get('/api/docs-json').expect(200);
  });
});

describe('member roles (MembershipPolicy)', () => {
  let t: TestApp;
  let lenient: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    lenient = await startTestApp({ config: { strictMembership: false } });
  });
  afterAll(async () => {
    await t?.close();
    await lenient?.close();
  });

  async function orgWithMembers(app: TestApp): Promise<string> {
    const org = await createOrganization(app, 'members', 'professional');
    await app.http().post(`/api/admin/organizations/${org}/members`).set(ADMIN).send({ userId: 'alice', role: 'owner' }).expect(201);
    await app.http().post(`/api/admin/organizations/${org}/members`).set(ADMIN).send({ userId: 'val', role: 'viewer' }).expect(201);
    return org;
  }

  it('lets members act, keeps viewers to reading, refuses strangers with USER_NOT_MEMBER', async () => {
    const policy = t.app.get(MembershipPolicy);
    const org = await orgWithMembers(t);
    await expect(policy.assertMayAct(org, undefined, 'track')).resolves.toBeUndefined();
    await expect(policy.assertMayAct(org, 'alice', 'track')).resolves.toBeUndefined();
    await expect(policy.assertMayAct(org, 'val', 'read')).resolves.toBeUndefined();
    await expect(policy.assertMayAct(org, 'val', 'track')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(policy.assertMayAct(org, 'mallory', 'read')).rejects.toMatchObject({ code: 'USER_NOT_MEMBER', details: { organizationId: org, userId: 'mallory' } });
    await expect(policy.assertMayAct(org, "x' OR 1=1 --", 'track')).rejects.toMatchObject({ code: 'USER_NOT_MEMBER' });
    // An organization without members accepts any user id.
    const open = await createOrganization(t, 'members');
    await expect(policy.assertMayAct(open, 'anyone', 'track')).resolves.toBeUndefined();
    // Changes count at once (nothing cached).
    await t.http().post(`/api/admin/organizations/${org}/members`).set(ADMIN).send({ userId: 'mallory', role: 'member' }).expect(201);
    await expect(policy.assertMayAct(org, 'mallory', 'track')).resolves.toBeUndefined();
    await t.http().delete(`/api/admin/organizations/${org}/members/mallory`).set(ADMIN).expect(200);
    await expect(policy.assertMayAct(org, 'mallory', 'track')).rejects.toMatchObject({ code: 'USER_NOT_MEMBER' });
  });

  it('allows strangers when STRICT_MEMBERSHIP=false, still keeping viewers from tracking', async () => {
    const policy = lenient.app.get(MembershipPolicy);
    const org = await orgWithMembers(lenient);
    await expect(policy.assertMayAct(org, 'mallory', 'track')).resolves.toBeUndefined();
    await expect(policy.assertMayAct(org, 'val', 'track')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('rate limiting', () => {
  const LIMIT = 5;
  const redisUrl = process.env.REDIS_URL;
  let t: TestApp;
  beforeAll(async () => {
    // trustProxy: each test's client IP comes from X-Forwarded-For. Without it every request is 127.0.0.1,
    // whose budget in the shared Redis outlives a run by a minute: the next run started at 429.
    t = await startTestApp({ config: { rateLimitPerMinute: LIMIT, redisUrl, trustProxy: true } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it(`answers 429 RATE_LIMITED with Retry-After past the limit, per key${redisUrl ? ' (Redis store)' : ''}`, async () => {
    const org = await createOrganization(t, 'rl');
    const a = await issueKey(t, org, ['read']);
    const b = await issueKey(t, org, ['read']);
    const get = (key: { Authorization: string }) => t.http().get(`/api/organizations/${org}/usage`).set(key);
    for (let i = 0; i < LIMIT; i++) {
      const res = await get(a.headers).expect(200);
      expect(res.headers['x-ratelimit-remaining']).toBe(String(LIMIT - 1 - i));
    }
    const limited = await get(a.headers).expect(429);
    expect(limited.body).toEqual({ statusCode: 429, error: 'RATE_LIMITED', message: expect.stringMatching(/retry in/) });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Another key has a budget of its own; the admin key is not limited by default.
    await get(b.headers).expect(200);
    for (let i = 0; i < LIMIT + 2; i++) await get(ADMIN).expect(200);
  });

  it('never limits /health and /metrics, and limits requests without a valid key per client IP', async () => {
    const ip = uniqueClientIp();
    for (let i = 0; i < LIMIT + 3; i++) {
      await t.http().get('/health').set('X-Forwarded-For', ip).expect(200);
      await t.http().get('/metrics').set('X-Forwarded-For', ip).expect(200);
    }
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      // A different random key each time: still one budget, the client's.
      const res = await t.http().get('/api/admin/config').set('X-Forwarded-For', ip).set('Authorization', `Bearer nxk_${String(i).padStart(43, 'x')}`);
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
  });

  (redisUrl ? it : it.skip)('shares the budget of a key between instances through Redis', async () => {
    const database = await createTestDatabase();
    const [one, two] = [await startTestApp({ database, config: { rateLimitPerMinute: LIMIT, redisUrl } }), await startTestApp({ database, config: { rateLimitPerMinute: LIMIT, redisUrl } })];
    try {
      const org = await createOrganization(one, 'rl');
      const key = await issueKey(one, org, ['read']);
      const statuses: number[] = [];
      for (let i = 0; i < LIMIT + 1; i++) {
        const app = i % 2 === 0 ? one : two;
        statuses.push((await app.http().get(`/api/organizations/${org}/usage`).set(key.headers)).status);
      }
      expect(statuses).toEqual([...Array(LIMIT).fill(200), 429]);
    } finally {
      await one.close();
      await two.close();
      await database.drop();
    }
  });
});

(ON_POSTGRES ? describe : describe.skip)('revocation across instances (PostgreSQL)', () => {
  it('is refused at once where revoked and within the key cache TTL elsewhere', async () => {
    const database = await createTestDatabase();
    const one = await startTestApp({ database, config: { apiKeyCacheTtlSeconds: 1 } });
    const two = await startTestApp({ database, config: { apiKeyCacheTtlSeconds: 1 } });
    try {
      const org = await createOrganization(one, 'revoke');
      const key = await issueKey(one, org, ['read']);
      await two.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(200); // now cached on two
      const revokedAt = Date.now();
      await revokeKey(one, org, key.id);
      await one.http().get(`/api/organizations/${org}/usage`).set(key.headers).expect(401);
      let status = 200;
      while (status === 200 && Date.now() - revokedAt < 3000) {
        status = (await two.http().get(`/api/organizations/${org}/usage`).set(key.headers)).status;
        if (status === 200) await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe(401);
      expect(Date.now() - revokedAt).toBeLessThan(1500);
    } finally {
      await one.close();
      await two.close();
      await database.drop();
    }
  });
});
