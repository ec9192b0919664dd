import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { API_KEY_SCOPES, IS_PUBLIC, PORTAL_READABLE, REQUIRED_SCOPES } from '../../src/common/auth/auth.decorators';
import type { ApiKeyScope } from '../../src/common/auth/auth.decorators';
import { registeredRoutes } from '../../src/common/auth/route-catalog';

/** How a route is protected, as its decorators declare it. */
export type RouteAccess = { kind: 'public' } | { kind: 'admin' } | { kind: 'organization'; scopes: ApiKeyScope[] };

export interface AppRoute {
  method: string;
  url: string;
  /** Undefined for routes Nest did not register (Swagger's pages). */
  access?: RouteAccess;
  /** "Controller.method", for messages. */
  handler?: string;
  /** Whether a customer portal token may call it (@PortalReadable). */
  portal?: boolean;
}

function joinPath(...parts: string[]): string {
  const joined = `/${parts.filter(Boolean).join('/')}`.replace(/\/+/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

/** Every route Nest's controllers declare, keyed "METHOD /path", with its access metadata. */
function nestRoutes(app: NestFastifyApplication): Map<string, { access: RouteAccess; handler: string; portal: boolean }> {
  const reflector = new Reflector();
  const scanner = new MetadataScanner();
  const routes = new Map<string, { access: RouteAccess; handler: string; portal: boolean }>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: unknown[]) => unknown) | undefined;
      if (!controller) continue;
      const prefixes = [Reflect.getMetadata(PATH_METADATA, controller) ?? ''].flat() as string[];
      for (const name of scanner.getAllMethodNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, (...args: unknown[]) => unknown>)[name];
        const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (paths === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const targets = [handler, controller];
        const access: RouteAccess = reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)
          ? { kind: 'public' }
          : reflector.getAllAndOverride<ApiKeyScope[] | undefined>(REQUIRED_SCOPES, targets)
            ? { kind: 'organization', scopes: reflector.getAllAndOverride<ApiKeyScope[]>(REQUIRED_SCOPES, targets) }
            : { kind: 'admin' };
        for (const prefix of prefixes) {
          for (const path of [paths].flat()) routes.set(`${method} ${joinPath(prefix, path)}`, { access, handler: `${controller.name}.${name}`, portal: reflector.getAllAndOverride<boolean>(PORTAL_READABLE, targets) === true });
        }
      }
    }
  }
  return routes;
}

/**
 * The running app's routes, from its router (every method and path Fastify registered), each with the access
 * its Nest handler declares. A HEAD route shares its GET route's handler.
 */
export function appRoutes(app: NestFastifyApplication): AppRoute[] {
  const declared = nestRoutes(app);
  return registeredRoutes(app.getHttpAdapter().getInstance()).map((route) => {
    const meta = declared.get(`${route.method} ${route.url}`) ?? (route.method === 'HEAD' ? declared.get(`GET ${route.url}`) : undefined);
    return { method: route.method, url: route.url, access: meta?.access, handler: meta?.handler, portal: meta?.portal ?? false };
  });
}

/** Scopes other than the given ones: a key holding exactly these lacks what the route needs. */
export function otherScopes(scopes: ApiKeyScope[]): ApiKeyScope[] {
  return API_KEY_SCOPES.filter((s) => !scopes.includes(s));
}

/** Path parameters that name nothing real (never one of the test's keys, events or plans). */
export const PLACEHOLDER_PARAMS: Record<string, string> = {
  id: '00000000-0000-4000-8000-000000000000',
  eventType: 'matrix_missing_event',
  name: 'matrix_missing_plan',
  userId: 'matrix-nobody',
  period: '2026-11',
  '*': 'matrix-missing.txt',
};

/** Fills a route pattern's parameters (`:orgId` from the argument, others from PLACEHOLDER_PARAMS). */
export function fillPath(url: string, params: Record<string, string>): string {
  return url
    .replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? PLACEHOLDER_PARAMS[name] ?? 'x'))
    .replace(/\*$/, encodeURIComponent(params['*'] ?? PLACEHOLDER_PARAMS['*']));
}
