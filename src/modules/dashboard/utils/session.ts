import type { ApiKeyScope } from '../../../common/auth/auth.decorators';
import type { Principal } from '../../../common/auth/principal';

export type DashboardSession =
  | { kind: 'admin' }
  | { kind: 'organization'; organizationId: string; scopes: ApiKeyScope[] }
  | { kind: 'portal'; organizationId: string; scopes: ApiKeyScope[]; expiresAt: string };

/** What the dashboard needs to know about a key to open the right view (never the key's id or secret). */
export function sessionOf(principal: Principal | undefined): DashboardSession {
  if (!principal) throw new Error('sessionOf: no principal (the route must not be public)');
  if (principal.kind === 'admin') return { kind: 'admin' };
  if (principal.kind === 'portal') return { kind: 'portal', organizationId: principal.organizationId, scopes: [...principal.scopes], expiresAt: principal.expiresAt };
  return { kind: 'organization', organizationId: principal.organizationId, scopes: principal.scopes };
}
