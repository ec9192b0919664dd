import { randomBytes } from 'node:crypto';
import type { ApiKeyScope } from '../../src/common/auth/auth.decorators';
import { ADMIN } from './test-app';
import type { TestApp } from './test-app';

/** A fresh organization id no other test uses. */
export function uniqueOrgId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export async function createOrganization(t: TestApp, prefix: string, plan = 'starter'): Promise<string> {
  const id = uniqueOrgId(prefix);
  const res = await t.http().post('/api/admin/organizations').set(ADMIN).send({ id, name: `Org ${id}`, plan });
  if (res.status !== 201) throw new Error(`creating organization ${id}: ${res.status} ${res.text}`);
  return id;
}

export interface IssuedKey {
  id: string;
  key: string;
  scopes: ApiKeyScope[];
  headers: { Authorization: string };
}

export async function issueKey(t: TestApp, orgId: string, scopes: ApiKeyScope[], name = `key ${scopes.join('+')}`): Promise<IssuedKey> {
  const res = await t.http().post(`/api/admin/organizations/${orgId}/api-keys`).set(ADMIN).send({ name, scopes });
  if (res.status !== 201) throw new Error(`creating a key for ${orgId}: ${res.status} ${res.text}`);
  return { id: res.body.id, key: res.body.key, scopes: res.body.scopes, headers: { Authorization: `Bearer ${res.body.key}` } };
}

export async function revokeKey(t: TestApp, orgId: string, keyId: string): Promise<void> {
  const res = await t.http().delete(`/api/admin/organizations/${orgId}/api-keys/${keyId}`).set(ADMIN);
  if (res.status !== 200) throw new Error(`revoking ${keyId}: ${res.status} ${res.text}`);
}

/** A unique client address (the app trusts X-Forwarded-For), so per-IP budgets of parallel suites never mix. */
export function uniqueClientIp(): string {
  const b = randomBytes(3);
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}
