import type { ApiKeyScope } from './auth.decorators';

export type Principal =
  | { kind: 'admin'; id: 'admin' }
  | { kind: 'organization'; id: string; organizationId: string; scopes: ApiKeyScope[] }
  /** A customer portal link: one organization, read-only, on @PortalReadable routes only, until expiresAt. */
  | { kind: 'portal'; id: string; organizationId: string; scopes: readonly ApiKeyScope[]; expiresAt: string };

/** Where the guard leaves the authenticated principal on the request. */
export const PRINCIPAL_KEY = 'principal';

export function actorName(principal: Principal | undefined): string {
  if (!principal) return 'system';
  if (principal.kind === 'admin') return 'admin';
  return principal.kind === 'portal' ? `portal:${principal.id}` : `key:${principal.id}`;
}
