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
 * Resolves organization API keys. Bound by the security module; without it only the admin key works.
 */
export abstract class ApiKeyResolver {
  abstract resolve(token: string): Promise<Principal | undefined>;
}
export const API_KEY_RESOLVER = Symbol('API_KEY_RESOLVER');

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
    const request = context.switchToHttp().getRequest<FastifyRequest & { [PRINCIPAL_KEY]?: Principal }>();
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new DomainError('UNAUTHORIZED', 'Missing or malformed Authorization header: send "Bearer <api key>"');
    if (secretsEqual(token, this.config.adminApiKey)) {
      request[PRINCIPAL_KEY] = { kind: 'admin', id: 'admin' };
      return true;
    }
    const scopes = this.reflector.getAllAndOverride<ApiKeyScope[] | undefined>(REQUIRED_SCOPES, targets);
    if (!scopes) throw new DomainError('UNAUTHORIZED', 'This route needs the admin API key');
    throw new DomainError('UNAUTHORIZED', 'Invalid API key');
  }
}
