import { CanActivate, ExecutionContext, Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { DomainError } from '../errors/domain-error';
import { ApiKeyScope, IS_PUBLIC, REQUIRED_SCOPES } from './auth.decorators';
import { bearerToken, secretsEqual } from './constant-time';
import { Principal, PRINCIPAL_KEY } from './principal';

/**
 * Resolves organization API keys. Bound by the API keys module; without it only the admin key works.
 */
export abstract class ApiKeyResolver {
  abstract resolve(token: string): Promise<Principal | undefined>;
}
export const API_KEY_RESOLVER = Symbol('API_KEY_RESOLVER');

/** Header naming the organization on routes without `:orgId` (the admin key's way to pick one). */
export const ORGANIZATION_HEADER = 'x-organization-id';

type AuthRequest = FastifyRequest & { [PRINCIPAL_KEY]?: Principal };

/** The answer for another organization's resources: word for word what an unknown organization gets. */
export function organizationNotFound(id: string): DomainError {
  return new DomainError('ORGANIZATION_NOT_FOUND', `Organization "${id}" does not exist`, { organizationId: id });
}

/**
 * Who may call what (SPEC section 10):
 *  - `@Public()` routes: anyone;
 *  - routes with neither decorator: the admin key only. Anything else, an organization key included, is
 *    401 UNAUTHORIZED (without even looking the key up);
 *  - `@Scopes(...)` routes: the admin key, or an active organization key that
 *      1. belongs to the organization named by `:orgId` (or `X-Organization-Id`), else 404
 *         ORGANIZATION_NOT_FOUND exactly as for an organization that does not exist (no existence leak),
 *      2. holds every listed scope, else 403 FORBIDDEN.
 *    A missing, malformed, unknown or revoked key is 401 UNAUTHORIZED.
 * The principal is left on the request under PRINCIPAL_KEY.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() @Inject(API_KEY_RESOLVER) private readonly keyResolver?: ApiKeyResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthRequest>();
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new DomainError('UNAUTHORIZED', 'Missing or malformed Authorization header: send "Bearer <api key>"');
    if (secretsEqual(token, this.config.adminApiKey)) {
      request[PRINCIPAL_KEY] = { kind: 'admin', id: 'admin' };
      return true;
    }
    const scopes = this.reflector.getAllAndOverride<ApiKeyScope[] | undefined>(REQUIRED_SCOPES, targets);
    if (!scopes) throw new DomainError('UNAUTHORIZED', 'This route needs the admin API key');
    const principal = await this.keyResolver?.resolve(token);
    if (!principal || principal.kind !== 'organization') throw new DomainError('UNAUTHORIZED', 'Invalid or revoked API key');

    const params = (request.params ?? {}) as Record<string, string | undefined>;
    const header = request.headers[ORGANIZATION_HEADER];
    for (const named of [params.orgId, typeof header === 'string' ? header : undefined]) {
      if (named !== undefined && named !== principal.organizationId) throw organizationNotFound(named);
    }
    const missing = scopes.filter((scope) => !principal.scopes.includes(scope));
    if (missing.length > 0) {
      throw new DomainError('FORBIDDEN', `This API key lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, { requiredScopes: scopes });
    }
    request[PRINCIPAL_KEY] = principal;
    return true;
  }
}
