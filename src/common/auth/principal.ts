import type { ApiKeyScope } from './auth.decorators';

export type Principal =
  | { kind: 'admin'; id: 'admin' }
  | { kind: 'organization'; id: string; organizationId: string; scopes: ApiKeyScope[] };

/** Where the guard leaves the authenticated principal on the request. */
export const PRINCIPAL_KEY = 'principal';

export function actorName(principal: Principal | undefined): string {
  if (!principal) return 'system';
  return principal.kind === 'admin' ? 'admin' : `key:${principal.id}`;
}
