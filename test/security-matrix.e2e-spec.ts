import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ApiKeyScope } from '../src/common/auth/auth.decorators';
import { createOrganization, issueKey, IssuedKey, revokeKey } from './utils/security-fixtures';
import { appRoutes, AppRoute, fillPath, otherScopes } from './utils/security-routes';
import { ADMIN, startTestApp, TestApp } from './utils/test-app';

/**
 * The authorization matrix: every route of the running app (enumerated from its router, so a new route is in
 * here the moment it exists) against every kind of caller, each with the status it must get.
 *
 * What a route needs comes from its decorators; the rules below say which declarations are allowed at all:
 * public routes are exactly the list below, everything under /api/organizations/:orgId/ declares @Scopes,
 * everything under /api/admin/ is admin-only.
 */
const PUBLIC_ROUTES = new Set([
  'GET /health',
  'HEAD /health',
  'GET /metrics',
  'HEAD /metrics',
  'GET /api/plans',
  'HEAD /api/plans',
  // `/` sends people to the dashboard; the dashboard's static page and assets (it signs in with a key pasted
  // by the user, in the browser).
  'GET /',
  'HEAD /',
  'GET /dashboard',
  'HEAD /dashboard',
  'GET /dashboard/*',
  'HEAD /dashboard/*',
]);
/** Swagger UI and the OpenAPI document: served by @nestjs/swagger outside Nest's controllers, public by design. */
const isSwaggerRoute = (url: string) => url === '/api/docs' || url.startsWith('/api/docs/') || url === '/api/docs-json' || url === '/api/docs-yaml';

/**
 * The routes a customer portal link's token may call (@PortalReadable): the usage page's reads, nothing else.
 * A new one is added here on purpose, or the declarations test fails.
 */
const PORTAL_ROUTES = new Set([
  'GET /api/dashboard/session',
  'GET /api/organizations/:orgId/usage',
  'GET /api/organizations/:orgId/notifications',
  'GET /api/organizations/:orgId/usage/breakdown',
  'GET /api/organizations/:orgId/usage/trends',
  'GET /api/organizations/:orgId/usage/forecast',
  'GET /api/organizations/:orgId/usage/recommendation',
  'GET /api/organizations/:orgId/usage/invoice',
  'GET /api/organizations/:orgId/usage/events',
  'GET /api/organizations/:orgId/usage/reports',
  'GET /api/organizations/:orgId/usage/reports/:period',
  'GET /api/organizations/:orgId/credits',
  'GET /api/organizations/:orgId/usage/hourly',
  'GET /api/organizations/:orgId/usage/budgets',
  'GET /api/organizations/:orgId/usage/api-keys',
]);

type Caller = 'none' | 'malformed' | 'revoked' | 'otherOrg' | 'wrongScope' | 'rightScope' | 'admin' | 'portal' | 'portalOtherOrg';
const CALLERS: Caller[] = ['none', 'malformed', 'revoked', 'otherOrg', 'wrongScope', 'rightScope', 'admin', 'portal', 'portalOtherOrg'];

/** What a caller must get: let through by the guard, or refused with this status and code. */
type Expected = 'through' | { status: 401; error: 'UNAUTHORIZED' } | { status: 403; error: 'FORBIDDEN' } | { status: 404; error: 'ORGANIZATION_NOT_FOUND' };
const UNAUTHORIZED = { status: 401, error: 'UNAUTHORIZED' } as const;

function expected(route: AppRoute, caller: Caller): Expected {
  const access = route.access ?? { kind: 'public' as const };
  if (access.kind === 'public' || caller === 'admin') return 'through';
  // A portal token: its organization's usage page (HEAD shares GET's handler), 401 everywhere else.
  const portalRoute = route.portal === true && (route.method === 'GET' || route.method === 'HEAD');
  if (caller === 'portal') return portalRoute ? 'through' : UNAUTHORIZED;
  if (caller === 'portalOtherOrg') return portalRoute ? { status: 404, error: 'ORGANIZATION_NOT_FOUND' } : UNAUTHORIZED;
  if (access.kind === 'admin') return UNAUTHORIZED;
  switch (caller) {
    case 'none':
    case 'malformed':
    case 'revoked':
      return UNAUTHORIZED;
    // The request names organization A (in :orgId, or X-Organization-Id on routes without one).
    case 'otherOrg':
      return { status: 404, error: 'ORGANIZATION_NOT_FOUND' };
    case 'wrongScope':
      return { status: 403, error: 'FORBIDDEN' };
    case 'rightScope':
      return 'through';
  }
}

describe('authorization matrix', () => {
  let t: TestApp;
  let routes: AppRoute[];
  let orgA: string;
  let orgB: string;
  let revoked: IssuedKey;
  let otherOrgKey: IssuedKey;
  let portalA: string;
  let portalB: string;
  const keysByScopes = new Map<string, IssuedKey>();

  async function keyWith(scopes: ApiKeyScope[]): Promise<IssuedKey> {
    const name = [...scopes].sort().join('+');
    if (!keysByScopes.has(name)) keysByScopes.set(name, await issueKey(t, orgA, scopes));
    return keysByScopes.get(name)!;
  }

  const portalToken = async (orgId: string) =>
    new URL((await t.http().post(`/api/admin/organizations/${orgId}/portal-sessions`).set(ADMIN).send({ ttlMinutes: 1440 }).expect(201)).body.url).hash.replace('#portal=', '');

  beforeAll(async () => {
    t = await startTestApp();
    routes = appRoutes(t.app);
    orgA = await createOrganization(t, 'matrix-a', 'enterprise');
    orgB = await createOrganization(t, 'matrix-b', 'enterprise');
    revoked = await issueKey(t, orgA, ['track', 'read', 'manage']);
    await revokeKey(t, orgA, revoked.id);
    otherOrgKey = await issueKey(t, orgB, ['track', 'read', 'manage']);
    portalA = await portalToken(orgA);
    portalB = await portalToken(orgB);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('knows how every route is protected, and the declarations follow the rules', () => {
    expect(routes.length).toBeGreaterThan(40);
    const problems: string[] = [];
    for (const route of routes) {
      const id = `${route.method} ${route.url}`;
      if (!route.access) {
        if (!isSwaggerRoute(route.url)) problems.push(`${id}: registered outside Nest's controllers (no guard runs there)`);
        continue;
      }
      if (route.access.kind === 'public' && !PUBLIC_ROUTES.has(id)) problems.push(`${id} (${route.handler}) is @Public(): add it to PUBLIC_ROUTES if that is intended`);
      if (route.url.startsWith('/api/organizations/') && route.access.kind !== 'organization') problems.push(`${id} (${route.handler}) is an organization route without @Scopes(...)`);
      if (route.url.startsWith('/api/admin/') && route.access.kind !== 'admin') problems.push(`${id} (${route.handler}) is under /api/admin but not admin-only`);
      if (route.access.kind === 'organization' && route.access.scopes.length === 0) problems.push(`${id} (${route.handler}) has an empty @Scopes()`);
      // The guard matches a key's organization against :orgId only: another name would skip the tenant check.
      if (route.portal && !PORTAL_ROUTES.has(`${route.method === 'HEAD' ? 'GET' : route.method} ${route.url}`)) problems.push(`${id} (${route.handler}) is @PortalReadable(): add it to PORTAL_ROUTES if a portal link must reach it`);
      if (route.portal && !['GET', 'HEAD'].includes(route.method)) problems.push(`${id} (${route.handler}) is @PortalReadable() but not a read`);
      if (/:(?!orgId\b)\w*org/i.test(route.url)) problems.push(`${id} (${route.handler}) names an organization with a parameter other than :orgId`);
    }
    for (const id of PORTAL_ROUTES) {
      if (!routes.some((r) => `${r.method} ${r.url}` === id && r.portal)) problems.push(`${id} is listed as portal-readable but is not (or does not exist)`);
    }
    for (const id of PUBLIC_ROUTES) {
      if (!routes.some((r) => `${r.method} ${r.url}` === id)) problems.push(`${id} is listed as public but does not exist`);
    }
    expect(problems).toEqual([]);
  });

  it('gives every caller on every route the status it must get', async () => {
    const failures: string[] = [];
    let requests = 0;
    for (const route of routes) {
      const access = route.access;
      const required = access?.kind === 'organization' ? access.scopes : [];
      for (const caller of CALLERS) {
        let authorization: string | undefined;
        switch (caller) {
          case 'none':
            break;
          case 'malformed':
            authorization = 'Bearer nxk_not-a-real-key!';
            break;
          case 'revoked':
            authorization = revoked.headers.Authorization;
            break;
          case 'otherOrg':
            authorization = otherOrgKey.headers.Authorization;
            break;
          case 'wrongScope': {
            // On admin-only and public routes any organization key is "wrong"; a route needing all scopes has none.
            const scopes = access?.kind === 'organization' ? otherScopes(required) : (['track', 'read', 'manage'] as ApiKeyScope[]);
            if (scopes.length === 0) continue;
            authorization = (await keyWith(scopes)).headers.Authorization;
            break;
          }
          case 'rightScope':
            authorization = (await keyWith(required.length > 0 ? required : ['track', 'read', 'manage'])).headers.Authorization;
            break;
          case 'admin':
            authorization = ADMIN.Authorization;
            break;
          case 'portal':
            authorization = `Bearer ${portalA}`;
            break;
          case 'portalOtherOrg':
            authorization = `Bearer ${portalB}`;
            break;
        }
        const hasBody = !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(route.method);
        // Routes with :orgId name organization A there (the check under test); the others through the header.
        const headers: Record<string, string> = { ...(route.url.includes(':orgId') ? {} : { 'x-organization-id': orgA }), ...(hasBody ? { 'content-type': 'application/json' } : {}) };
        if (authorization) headers.authorization = authorization;
        const url = fillPath(route.url, { orgId: orgA });
        const res = await t.app.inject({ method: route.method as 'GET', url, headers, ...(hasBody ? { payload: '{}' } : {}) });
        requests++;
        // `DELETE …/portal-sessions` revokes every link of organization A: the routes after it get a new one.
        if (res.statusCode === 200 && route.method === 'DELETE' && route.url.endsWith('/portal-sessions')) portalA = await portalToken(orgA);
        const body = route.method === 'HEAD' || !res.body ? undefined : (safeJson(res.body) as { error?: string } | undefined);
        const want = expected(route, caller);
        const where = `${route.method} ${route.url} as ${caller}: got ${res.statusCode} ${body?.error ?? ''}`.trim();
        if (res.statusCode >= 500) {
          failures.push(`${where} (a server error)`);
        } else if (want === 'through') {
          const refusedByGuard = res.statusCode === 401 || res.statusCode === 403 || body?.error === 'ORGANIZATION_NOT_FOUND';
          if (refusedByGuard) failures.push(`${where}, expected to be let through`);
        } else if (res.statusCode !== want.status || (body !== undefined && body.error !== want.error)) {
          failures.push(`${where}, expected ${want.status} ${want.error}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(routes.length * 5);
  });

  it('the organization B key still works for B (the matrix refused it only for A)', async () => {
    await t.http().get(`/api/organizations/${orgB}/usage`).set(otherOrgKey.headers).expect(200);
  });
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
