import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, startTestApp } from './utils/test-app';
import type { TestApp } from './utils/test-app';

/** The operators' organizations list: search by id or name (q) and keyset pages through thousands. */
describe('organizations: search and paging', () => {
  let t: TestApp;
  const prefix = `srch${Math.random().toString(36).slice(2, 7)}`;
  const ids = Array.from({ length: 30 }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    t = await startTestApp();
    for (const [i, id] of ids.entries()) {
      await t.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: i === 7 ? 'Globex 50% Corp' : `Company ${i}`, plan: 'free' }).expect(201);
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  const list = (query: Record<string, string | number | undefined>) => t.http().get('/api/admin/organizations').query(query).set(ADMIN);

  it('pages through the matches in id order, each once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await list({ q: prefix, limit: 7, ...(cursor ? { cursor } : {}) }).expect(200);
      seen.push(...res.body.items.map((o: { id: string }) => o.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(5);
    expect(seen).toEqual(ids);
  });

  it('finds by name, case-insensitive, with % and _ taken literally', async () => {
    const byName = await list({ q: 'globex' }).expect(200);
    expect(byName.body.items.map((o: { id: string }) => o.id)).toEqual([ids[7]]);
    expect((await list({ q: '50%' }).expect(200)).body.items.map((o: { id: string }) => o.id)).toEqual([ids[7]]);
    expect((await list({ q: `${prefix.toUpperCase()}-2` }).expect(200)).body.items).toHaveLength(10);
    expect((await list({ q: `${prefix}_` }).expect(200)).body.items).toEqual([]);
    expect((await list({ q: 'no-such-organization-anywhere' }).expect(200)).body).toEqual({ items: [], nextCursor: null });
  });

  it('refuses a bad query with 400', async () => {
    for (const query of [{ q: '' }, { q: 'x'.repeat(201) }, { limit: 0 }, { limit: 1001 }]) {
      expect((await list(query).expect(400)).body.error).toBe('VALIDATION_FAILED');
    }
  });
});
