import type { ApiKeyScope } from '../../../common/auth/auth.decorators';
import type { Principal } from '../../../common/auth/principal';

export type KeyIdentity = { kind: 'admin' } | { kind: 'organization'; organizationId: string; scopes: ApiKeyScope[] };

/** What a metering client learns about its own key: whose it is and what it may do (never its id or secret). */
export function keyIdentityOf(principal: Principal | undefined): KeyIdentity {
  if (!principal || principal.kind === 'portal') throw new Error('keyIdentityOf: an API key principal is required (the route is not public nor portal-readable)');
  if (principal.kind === 'admin') return { kind: 'admin' };
  return { kind: 'organization', organizationId: principal.organizationId, scopes: [...principal.scopes] };
}
