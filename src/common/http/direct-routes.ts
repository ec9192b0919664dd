import { CanActivate, ExceptionFilter, ExecutionContext, ForbiddenException, RequestMethod, SetMetadata, Type } from '@nestjs/common';
import {
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  HEADERS_METADATA,
  HTTP_CODE_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  PIPES_METADATA,
  REDIRECT_METADATA,
  RENDER_METADATA,
  RESPONSE_PASSTHROUGH_METADATA,
  ROUTE_ARGS_METADATA,
  SSE_METADATA,
  VERSION_METADATA,
} from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ModulesContainer } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { isThenable } from '../validation/is-thenable';

const DIRECT_ROUTE = 'http:directRoute';

/**
 * Marks a route whose requests skip Nest's per-request machinery (the guard consumer, the interceptor and
 * pipe consumers, the response controller: a dozen async functions and promises a request) and run the same
 * steps directly: the app's guard, the handler with its arguments, the answer, the app's exception filter on
 * any error. For the hottest routes only (`POST …/usage/events`): the framework path was two thirds of a
 * tracked event's service CPU (bench/README.md). registerDirectRoutes refuses, at startup, a marked route
 * using anything this does not reproduce (its own guards, interceptors, pipes or filters, a DTO class the
 * global ValidationPipe would validate, `@Header`, `@Redirect`, `@Render`, `@Sse`, versions), so the route
 * behaves exactly as it would through Nest. Its OpenAPI description, path and method stay Nest's.
 */
export const DirectRoute = () => SetMetadata(DIRECT_ROUTE, true);

/** What a direct route runs that Nest would otherwise run: the app's global guard and exception filter. */
export interface DirectRouteServices {
  guard: CanActivate;
  filter: ExceptionFilter;
}

/**
 * An interceptor a direct route may carry (as its only one): it does for the route what its `intercept()`
 * does, around a promise of the handler's result instead of an Observable.
 */
export interface DirectInterceptor {
  /** Whether it can meter this handler so (checked at startup: a route it cannot is refused). */
  supportsDirect(handler: object): boolean;
  interceptDirect(context: ExecutionContext, handle: () => Promise<unknown>): Promise<unknown>;
}

function isDirectInterceptor(value: unknown): value is DirectInterceptor {
  return typeof (value as DirectInterceptor | undefined)?.interceptDirect === 'function' && typeof (value as DirectInterceptor).supportsDirect === 'function';
}

type ArgumentOf = (request: FastifyRequest, reply: FastifyReply) => unknown;

interface DirectRoute {
  method: string;
  url: string;
  handler: RouteHandlerMethod;
  installed: boolean;
}

/**
 * Finds the app's @DirectRoute handlers and swaps each one's Fastify handler for the direct one as Nest
 * registers it. Call before `app.init()` (which registers the routes); returns a check to call after it,
 * which throws if a marked route was not found among the registered ones.
 */
export function registerDirectRoutes(app: NestFastifyApplication, services: DirectRouteServices): () => void {
  const routes = new Map<string, DirectRoute>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || !wrapper.isDependencyTreeStatic()) continue;
      const controller = instance.constructor as Type<unknown>;
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const method = controller.prototype[name] as unknown;
        if (typeof method !== 'function' || Reflect.getMetadata(DIRECT_ROUTE, method) !== true) continue;
        const route = directRoute(app, instance, controller, name, method as (...args: unknown[]) => unknown, services);
        routes.set(`${route.method} ${route.url}`, route);
      }
    }
  }
  if (routes.size > 0) {
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRoute', (options) => {
        const route = typeof options.method === 'string' ? routes.get(`${options.method} ${options.url}`) : undefined;
        if (!route) return;
        options.handler = route.handler;
        route.installed = true;
      });
  }
  return () => {
    for (const route of routes.values()) if (!route.installed) throw new Error(`@DirectRoute ${route.method} ${route.url}: no such route was registered`);
  };
}

function directRoute(app: NestFastifyApplication, instance: object, controller: Type<unknown>, name: string, handler: (...args: unknown[]) => unknown, services: DirectRouteServices): DirectRoute {
  const where = `@DirectRoute ${controller.name}.${name}`;
  const refuse = (what: string): never => {
    throw new Error(`${where}: ${what} is not supported on a direct route (remove @DirectRoute or the ${what})`);
  };
  let interceptor: DirectInterceptor | undefined;
  const interceptors = [...((Reflect.getMetadata(INTERCEPTORS_METADATA, controller) as unknown[] | undefined) ?? []), ...((Reflect.getMetadata(INTERCEPTORS_METADATA, handler) as unknown[] | undefined) ?? [])];
  if (interceptors.length > 1) refuse('more than one interceptor');
  if (interceptors.length === 1) {
    const declared = interceptors[0];
    const found: unknown = typeof declared === 'function' ? app.get(declared as Type<unknown>, { strict: false }) : declared;
    if (!isDirectInterceptor(found) || !found.supportsDirect(handler)) refuse('an interceptor without a direct form for this route');
    interceptor = found as DirectInterceptor;
  }
  for (const key of [GUARDS_METADATA, PIPES_METADATA, EXCEPTION_FILTERS_METADATA]) {
    const onClass = Reflect.getMetadata(key, controller) as unknown[] | undefined;
    const onMethod = Reflect.getMetadata(key, handler) as unknown[] | undefined;
    if ((onClass?.length ?? 0) > 0 || (onMethod?.length ?? 0) > 0) refuse(`${key} of its own`);
  }
  for (const key of [HEADERS_METADATA, REDIRECT_METADATA, RENDER_METADATA, SSE_METADATA]) {
    const value = Reflect.getMetadata(key, handler) as unknown;
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) refuse(key);
  }
  if (Reflect.getMetadata(VERSION_METADATA, handler) !== undefined || Reflect.getMetadata(VERSION_METADATA, controller) !== undefined) refuse('version');

  const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod;
  const method = RequestMethod[requestMethod];
  if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) refuse(`method ${method}`);
  const url = joinPath(Reflect.getMetadata(PATH_METADATA, controller), Reflect.getMetadata(PATH_METADATA, handler), refuse);
  const code = Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined;
  const status = code ?? (requestMethod === RequestMethod.POST ? 201 : 200);

  const argsMetadata = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<string, { index: number; data?: unknown; pipes?: unknown[] }>;
  const types = (Reflect.getMetadata('design:paramtypes', instance, name) ?? []) as unknown[];
  const arity = Math.max(handler.length, ...Object.values(argsMetadata).map((a) => a.index + 1));
  const extractors: ArgumentOf[] = new Array<ArgumentOf>(arity).fill(() => undefined);
  for (const [key, { index, data, pipes }] of Object.entries(argsMetadata)) {
    const type = Number(key.split(':')[0]);
    if (Number.isNaN(type)) refuse('a custom parameter decorator');
    if ((pipes?.length ?? 0) > 0) refuse('a parameter pipe');
    if (data !== undefined && typeof data !== 'string') refuse('a parameter decorator with options');
    const field = data as string | undefined;
    const metatype = types[index];
    // The app's global ValidationPipe returns these values unchanged (see app.setup.ts): an undeclared or
    // `unknown`/object type is not validated, a path parameter declared `string` is already one. Anything
    // else (a DTO class, a number to convert) is work this route would skip, so it is refused.
    const unchanged = metatype === undefined || metatype === Object || (metatype === String && type === RouteParamtypes.PARAM);
    switch (type) {
      case RouteParamtypes.REQUEST:
        extractors[index] = (request) => request;
        break;
      case RouteParamtypes.RESPONSE:
        if (Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, controller, name) !== true) refuse('@Res() without passthrough');
        extractors[index] = (_request, reply) => reply;
        break;
      case RouteParamtypes.PARAM:
        if (!unchanged) refuse('a validated or converted @Param()');
        extractors[index] = field === undefined ? (request) => request.params : (request) => (request.params as Record<string, unknown>)[field];
        break;
      case RouteParamtypes.BODY:
        if (!unchanged) refuse('a validated @Body()');
        extractors[index] = field === undefined ? (request) => request.body : (request) => (request.body ? (request.body as Record<string, unknown>)[field] : request.body);
        break;
      default:
        refuse(`the parameter decorator of type ${RouteParamtypes[type] ?? type}`);
    }
  }

  const { guard, filter } = services;
  const run = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const args = [request, reply, undefined];
    try {
      const context = new ExecutionContextHost(args, controller, handler);
      context.setType('http');
      // Nest's order: the guard, then the route's status, then the arguments and the handler, then the answer.
      const allowed = guard.canActivate(context);
      if (!(isThenable(allowed) ? await allowed : allowed)) throw new ForbiddenException('Forbidden resource');
      void reply.status(status);
      const values = new Array<unknown>(extractors.length);
      for (let i = 0; i < extractors.length; i++) values[i] = extractors[i](request, reply);
      let body: unknown;
      if (interceptor) body = await interceptor.interceptDirect(context, async () => handler.apply(instance, values));
      else {
        const result = handler.apply(instance, values);
        body = isThenable(result) ? await result : result;
      }
      if (isThenable(body) || (body !== null && typeof body === 'object' && typeof (body as { subscribe?: unknown }).subscribe === 'function')) {
        throw new Error(`${where}: a direct route answers a value or a promise of one, not a stream or Observable`);
      }
      void reply.send(body);
      return undefined;
    } catch (error) {
      filter.catch(error, new ExecutionContextHost(args, controller, handler));
      return reply;
    }
  };
  // Nest's Fastify adapter sends a request with an empty path parameter to the not-found handler (as its
  // Express adapter and middleware matching do); a direct route does the same.
  const routeHandler: RouteHandlerMethod = function (request, reply) {
    const params = request.params as Record<string, string>;
    for (const key in params) {
      if (params[key] === '' && key !== '*') {
        reply.callNotFound();
        return;
      }
    }
    return run(request, reply);
  };
  return { method, url, handler: routeHandler, installed: false };
}

/** The route path Nest registers: the controller's path and the method's, one leading slash, no trailing one. */
function joinPath(controllerPath: unknown, methodPath: unknown, refuse: (what: string) => never): string {
  if (typeof controllerPath !== 'string' || typeof methodPath !== 'string') refuse('a path list');
  const parts = [controllerPath as string, methodPath as string].map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p.length > 0);
  const url = `/${parts.join('/')}`;
  // Segments of a literal or one whole `:name`: the paths Nest's adapter registers without a matcher of its own.
  if (!url.split('/').every((segment) => /^(?:[A-Za-z0-9_.~-]*|:[A-Za-z_][A-Za-z0-9_]*)$/.test(segment))) refuse(`the path "${url}"`);
  return url;
}
