import { describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { loadConfig } from '../../config/app-config';
import { DomainError } from '../errors/domain-error';
import { ApiKeyScope, PortalReadable, Public, Scopes } from './auth.decorators';
import { ApiKeyResolver, AuthGuard, PortalTokenResolver } from './auth.guard';
import type { Principal } from './principal';

const ADMIN_KEY = 'unit-admin-key-123456';
const config = loadConfig({ ADMIN_API_KEY: ADMIN_KEY });
const ORG_KEY = `nxk_${'k'.repeat(43)}`;

class Routes {
  @Public() health() {}
  admin() {}
  @Scopes('read') read() {}
  @Scopes('track', 'read') trackAndRead() {}
  @Scopes('read') @PortalReadable() usagePage() {}
}

const PORTAL_TOKEN = `nxp_${'p'.repeat(43)}`;

class FakePortalResolver extends PortalTokenResolver {
  calls = 0;
  recognizes(token: string): boolean {
    return token.startsWith('nxp_');
  }
  async resolve(token: string): Promise<Principal | undefined> {
    this.calls++;
    return token === PORTAL_TOKEN ? { kind: 'portal', id: 'p-1', organizationId: 'acme', scopes: ['read'], expiresAt: '2026-11-15T13:00:00.000Z' } : undefined;
  }
}

class FakeResolver extends ApiKeyResolver {
  calls = 0;
  constructor(private readonly scopes: ApiKeyScope[]) {
    super();
  }
  async resolve(token: string): Promise<Principal | undefined> {
    this.calls++;
    return token === ORG_KEY ? { kind: 'organization', id: 'key-1', organizationId: 'acme', scopes: this.scopes } : undefined;
  }
}

function context(handler: keyof Routes, headers: Record<string, string>, params: Record<string, string> = {}) {
  const request: Record<string, unknown> = { headers, params };
  const ctx = {
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
  return { ctx, request };
}

async function outcome(guard: AuthGuard, ctx: ExecutionContext): Promise<string> {
  try {
    return (await guard.canActivate(ctx)) ? 'allowed' : 'denied';
  } catch (error) {
    return (error as DomainError).code;
  }
}

describe('AuthGuard', () => {
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  it('lets anyone reach public routes', async () => {
    const guard = new AuthGuard(new Reflector(), config, new FakeResolver(['read']));
    expect(await outcome(guard, context('health', {}).ctx)).toBe('allowed');
  });

  it('keeps admin-only routes to the admin key, without looking organization keys up', async () => {
    const resolver = new FakeResolver(['track', 'read', 'manage']);
    const guard = new AuthGuard(new Reflector(), config, resolver);
    expect(await outcome(guard, context('admin', {}).ctx)).toBe('UNAUTHORIZED');
    expect(await outcome(guard, context('admin', bearer(ORG_KEY)).ctx)).toBe('UNAUTHORIZED');
    expect(resolver.calls).toBe(0);
    const { ctx, request } = context('admin', bearer(ADMIN_KEY));
    expect(await outcome(guard, ctx)).toBe('allowed');
    expect(request.principal).toEqual({ kind: 'admin', id: 'admin' });
  });

  it('checks the organization first (404, no existence leak), then every scope (403)', async () => {
    const guard = new AuthGuard(new Reflector(), config, new FakeResolver(['read']));
    expect(await outcome(guard, context('read', bearer(ORG_KEY), { orgId: 'other' }).ctx)).toBe('ORGANIZATION_NOT_FOUND');
    expect(await outcome(guard, context('trackAndRead', bearer(ORG_KEY), { orgId: 'other' }).ctx)).toBe('ORGANIZATION_NOT_FOUND');
    expect(await outcome(guard, context('trackAndRead', bearer(ORG_KEY), { orgId: 'acme' }).ctx)).toBe('FORBIDDEN');
    expect(await outcome(guard, context('read', { ...bearer(ORG_KEY), 'x-organization-id': 'other' }).ctx)).toBe('ORGANIZATION_NOT_FOUND');
    const { ctx, request } = context('read', bearer(ORG_KEY), { orgId: 'acme' });
    expect(await outcome(guard, ctx)).toBe('allowed');
    expect(request.principal).toMatchObject({ kind: 'organization', organizationId: 'acme' });
    // No :orgId: the organization is the key's.
    expect(await outcome(guard, context('read', bearer(ORG_KEY)).ctx)).toBe('allowed');
  });

  it('answers 401 for unknown keys and malformed headers, and without a resolver', async () => {
    const guard = new AuthGuard(new Reflector(), config, new FakeResolver(['read']));
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer' }, bearer(`nxk_${'x'.repeat(43)}`), { authorization: `Bearer ${ORG_KEY} extra` }]) {
      expect(await outcome(guard, context('read', headers, { orgId: 'acme' }).ctx)).toBe('UNAUTHORIZED');
    }
    const bare = new AuthGuard(new Reflector(), config);
    expect(await outcome(bare, context('read', bearer(ORG_KEY), { orgId: 'acme' }).ctx)).toBe('UNAUTHORIZED');
    expect(await outcome(bare, context('read', bearer(ADMIN_KEY), { orgId: 'acme' }).ctx)).toBe('allowed');
  });

  it('accepts a portal token on @PortalReadable routes of its organization only, refusing elsewhere before any lookup', async () => {
    const keys = new FakeResolver(['read']);
    const portal = new FakePortalResolver();
    const guard = new AuthGuard(new Reflector(), config, keys, portal);
    for (const handler of ['admin', 'read', 'trackAndRead'] as const) {
      expect(await outcome(guard, context(handler, bearer(PORTAL_TOKEN), { orgId: 'acme' }).ctx)).toBe('UNAUTHORIZED');
    }
    expect(portal.calls).toBe(0);
    expect(await outcome(guard, context('usagePage', bearer(PORTAL_TOKEN), { orgId: 'other' }).ctx)).toBe('ORGANIZATION_NOT_FOUND');
    expect(await outcome(guard, context('usagePage', bearer(`nxp_${'z'.repeat(43)}`), { orgId: 'acme' }).ctx)).toBe('UNAUTHORIZED');
    const { ctx, request } = context('usagePage', bearer(PORTAL_TOKEN), { orgId: 'acme' });
    expect(await outcome(guard, ctx)).toBe('allowed');
    expect(request.principal).toMatchObject({ kind: 'portal', organizationId: 'acme' });
    // A portal token never goes to the API key lookup, and an API key keeps working on the same route.
    expect(keys.calls).toBe(0);
    expect(await outcome(guard, context('usagePage', bearer(ORG_KEY), { orgId: 'acme' }).ctx)).toBe('allowed');
    // Without the portal module a portal token is just an unknown key.
    expect(await outcome(new AuthGuard(new Reflector(), config, keys), context('usagePage', bearer(PORTAL_TOKEN), { orgId: 'acme' }).ctx)).toBe('UNAUTHORIZED');
  });
});
