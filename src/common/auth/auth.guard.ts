import { CanActivate, ExecutionContext, Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { DomainError } from '../errors/domain-error';
import { ApiKeyScope, IS_PUBLIC, PORTAL_READABLE, REQUIRED_SCOPES } from './auth.decorators';
import { bearerToken, KnownSecret } from './constant-time';
import { Principal, PRINCIPAL_KEY } from './principal';
import { isThenable } from '../validation/is-thenable';

/**
 * Resolves organization API keys. Bound by the API keys module; without it only the admin key works.
 */
export abstract class ApiKeyResolver {
  /** The principal of an active key, or undefined; a value, not a promise, when it is known without a lookup (cached). */
  abstract resolve(token: string): Principal | undefined | Promise<Principal | undefined>;
}
export const API_KEY_RESOLVER = Symbol('API_KEY_RESOLVER');

/** Resolves customer portal tokens. Bound by the portal module; without it no portal token works. */
export abstract class PortalTokenResolver {
  /** Whether a token has a portal token's shape (decided without a lookup). */
  abstract recognizes(token: string): boolean;
  /** The portal principal of an unexpired token, else undefined. */
  abstract resolve(token: string): Promise<Principal | undefined>;
}
export const PORTAL_TOKEN_RESOLVER = Symbol('PORTAL_TOKEN_RESOLVER');

/** Header naming the organization on routes without `:orgId` (the admin key's way to pick one). */
export const ORGANIZATION_HEADER = 'x-organization-id';

type AuthRequest = FastifyRequest & { [PRINCIPAL_KEY]?: Principal };

/** The answer for another organization's resources: word for word what an unknown organization gets. */
export function organizationNotFound(id: string): DomainError {
  return new DomainError('ORGANIZATION_NOT_FOUND', `Organization "${id}" does not exist`, { organizationId: id });
}

/** What a route asks of its caller, read from its decorators once per handler. */
interface RouteRules {
  isPublic: boolean;
  scopes: ApiKeyScope[] | undefined;
  portalReadable: boolean;
}

/**
 * Who may call what (docs/api-keys.md):
 *  - `@Public()` routes: anyone;
 *  - routes with neither decorator: the admin key only. Anything else, an organization key included, is
 *    401 UNAUTHORIZED (without even looking the key up);
 *  - `@Scopes(...)` routes: the admin key, or an active organization key that
 *      1. belongs to the organization named by `:orgId` (or `X-Organization-Id`), else 404
 *         ORGANIZATION_NOT_FOUND exactly as for an organization that does not exist (no existence leak),
 *      2. holds every listed scope, else 403 FORBIDDEN.
 *    A missing, malformed, unknown or revoked key is 401 UNAUTHORIZED.
 *  - a customer portal token (`nxp_…`): only on `@PortalReadable()` routes (401 on every other route, without
 *    a lookup), only unexpired (401), and only for its own organization (404 as above).
 * The principal is left on the request under PRINCIPAL_KEY.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly adminKey: KnownSecret;
  /** Per handler (and its class: an inherited handler may sit under another class's decorators). */
  private readonly rules = new WeakMap<object, { owner: object; rules: RouteRules }>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() @Inject(API_KEY_RESOLVER) private readonly keyResolver?: ApiKeyResolver,
    @Optional() @Inject(PORTAL_TOKEN_RESOLVER) private readonly portalResolver?: PortalTokenResolver,
  ) {
    this.adminKey = new KnownSecret(() => this.config.adminApiKey);
  }

  /**
   * A value, not a promise, whenever nothing has to be looked up (public routes, the admin key, a cached
   * organization key): Nest then skips awaiting it, and most requests cost no promise here.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const rules = this.rulesOf(context.getHandler(), context.getClass());
    if (rules.isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthRequest>();
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new DomainError('UNAUTHORIZED', 'Missing or malformed Authorization header: send "Bearer <api key>"');
    if (this.adminKey.matches(token)) {
      request[PRINCIPAL_KEY] = { kind: 'admin', id: 'admin' };
      return true;
    }
    if (!rules.scopes) throw new DomainError('UNAUTHORIZED', 'This route needs the admin API key');
    if (this.portalResolver?.recognizes(token)) {
      // A portal link is single-purpose: refused on any route outside the usage page before any lookup.
      if (!rules.portalReadable) throw new DomainError('UNAUTHORIZED', 'A portal link opens its organization\'s usage page only');
      return this.portalResolver.resolve(token).then((principal) => {
        if (!principal || principal.kind !== 'portal') throw new DomainError('UNAUTHORIZED', 'Invalid or expired portal link');
        return this.admit(request, principal, rules.scopes!);
      });
    }
    const found = this.keyResolver?.resolve(token);
    const admitKey = (principal: Principal | undefined): boolean => {
      if (!principal || principal.kind !== 'organization') throw new DomainError('UNAUTHORIZED', 'Invalid or revoked API key');
      return this.admit(request, principal, rules.scopes!);
    };
    return isThenable(found) ? found.then(admitKey) : admitKey(found);
  }

  /** Lets a resolved key or portal token through, or says why not (404 for another organization, 403 for a scope). */
  private admit(request: AuthRequest, principal: Exclude<Principal, { kind: 'admin' }>, scopes: ApiKeyScope[]): boolean {
    const params = (request.params ?? {}) as Record<string, string | undefined>;
    const header = request.headers[ORGANIZATION_HEADER];
    if (params.orgId !== undefined && params.orgId !== principal.organizationId) throw organizationNotFound(params.orgId);
    if (typeof header === 'string' && header !== principal.organizationId) throw organizationNotFound(header);
    const missing = scopes.filter((scope) => !principal.scopes.includes(scope));
    if (missing.length > 0) {
      throw new DomainError('FORBIDDEN', `This API key lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, { requiredScopes: scopes });
    }
    request[PRINCIPAL_KEY] = principal;
    return true;
  }

  private rulesOf(handler: object, owner: object): RouteRules {
    const known = this.rules.get(handler);
    if (known && known.owner === owner) return known.rules;
    const targets = [handler as () => unknown, owner as new () => unknown];
    const rules: RouteRules = {
      isPublic: Boolean(this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)),
      scopes: this.reflector.getAllAndOverride<ApiKeyScope[] | undefined>(REQUIRED_SCOPES, targets),
      portalReadable: Boolean(this.reflector.getAllAndOverride<boolean>(PORTAL_READABLE, targets)),
    };
    if (!known) this.rules.set(handler, { owner, rules });
    return rules;
  }
}

