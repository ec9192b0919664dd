import type { FastifyInstance } from 'fastify';

export interface RegisteredRoute {
  method: string;
  url: string;
}

const catalogs = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/**
 * Records every route the router registers from now on (Nest's controllers, Swagger's pages), so tests
 * can enumerate the running app's routes and no route escapes the authorization matrix.
 */
export function recordRoutes(fastify: FastifyInstance): void {
  const routes: RegisteredRoute[] = [];
  catalogs.set(fastify, routes);
  fastify.addHook('onRoute', (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) routes.push({ method, url: route.url });
  });
}

/** The routes of an app whose router was recorded (one entry per method and path). */
export function registeredRoutes(fastify: FastifyInstance): RegisteredRoute[] {
  const routes = catalogs.get(fastify);
  if (!routes) throw new Error('registeredRoutes: this app was not created through createApp()');
  return [...routes];
}
