import { randomBytes } from 'node:crypto';
import type { ApiKeyScope } from '../../src/common/auth/auth.decorators';
import { createOrg, issueKey as issue, revokeKey, uniqueOrgId } from './factories';
import type { IssuedKey } from './factories';
import type { TestApp } from './test-app';

export { revokeKey, uniqueOrgId };
export type { IssuedKey };

/** The security suites' spelling of the factories: the prefix first, a starter organization by default. */
export function createOrganization(t: TestApp, prefix: string, plan = 'starter'): Promise<string> {
  return createOrg(t, plan, { prefix });
}

export function issueKey(t: TestApp, orgId: string, scopes: ApiKeyScope[], name?: string): Promise<IssuedKey> {
  return issue(t, orgId, scopes, { name });
}

/** A unique client address (the app trusts X-Forwarded-For), so per-IP budgets of parallel suites never mix. */
export function uniqueClientIp(): string {
  const b = randomBytes(3);
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}
