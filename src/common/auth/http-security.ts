import rateLimit from '@fastify/rate-limit';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/app-config';
import { DomainError } from '../errors/domain-error';
import { API_KEY_RESOLVER } from './auth.guard';
import type { ApiKeyResolver } from './auth.guard';
import { bearerToken, KnownSecret } from './constant-time';
import { rejectUnacceptableInput } from './input-hygiene';
import { connectRateLimitRedis, RedisRateLimitStore } from './rate-limit-redis-store';
import { recordRoutes } from './route-catalog';
import { registerSecurityHeaders } from './security-headers';

/** Never rate limited: probes and scrapers must see the service even when clients are throttled. */
export const RATE_LIMIT_EXEMPT_ROUTES = new Set(['/health', '/metrics']);
const WINDOW_MS = 60_000;

/**
 * HTTP-level protection, registered before any route so it covers all of them: the route catalog, security
 * headers, and the per-key rate limit. Called by createApp() before the routes are registered.
 */
export async function registerHttpSecurity(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  recordRoutes(fastify);

  // Helmet's defaults, CSP included: the Swagger UI at /api/docs loads only same-origin scripts and works.
  registerSecurityHeaders(fastify);
  // Input no handler can store or walk safely (NUL, unpaired surrogates, absurd nesting): 400 up front.
  fastify.addHook('preValidation', rejectUnacceptableInput);

  if (config.rateLimitPerMinute === 0 && config.rateLimitAdminPerMinute === 0) return;
  const logger = new Logger('RateLimit');
  const resolver = app.get<ApiKeyResolver | undefined>(API_KEY_RESOLVER, { strict: false });
  let store: (new () => RedisRateLimitStore) | undefined;
  if (config.redisUrl) {
    const client = await connectRateLimitRedis(config.redisUrl, (error) => logger.warn(`Redis: ${error.message}`));
    // The plugin instantiates the store class itself.
    store = class SharedRedisStore extends RedisRateLimitStore {
      constructor() {
        super(client, 'metering:ratelimit:');
      }
    };
    fastify.addHook('onClose', async () => {
      await client.close().catch(() => undefined);
    });
  }

  /**
   * Whose budget a request spends: the admin key's, an organization key's (by key id: the secret never
   * becomes a counter name), or, without a valid key, the client IP's (random keys share the IP's budget).
   */
  const adminKey = new KnownSecret(() => config.adminApiKey);
  const keyOf = async (request: FastifyRequest): Promise<string> => {
    const token = bearerToken(request.headers.authorization);
    if (token) {
      if (adminKey.matches(token)) return 'admin';
      try {
        const principal = await resolver?.resolve(token);
        if (principal?.kind === 'organization') return `key:${principal.id}`;
      } catch {
        // The database is unreachable: the request fails in the guard anyway; count it by IP.
      }
    }
    return `ip:${request.ip}`;
  };

  await app.register(rateLimit as never, {
    global: true,
    hook: 'onRequest',
    timeWindow: WINDOW_MS,
    keyGenerator: keyOf,
    max: (_request: FastifyRequest, key: string) => (key === 'admin' ? config.rateLimitAdminPerMinute : config.rateLimitPerMinute),
    allowList: (request: FastifyRequest, key: string) =>
      RATE_LIMIT_EXEMPT_ROUTES.has(request.routeOptions.url ?? '') || (key === 'admin' ? config.rateLimitAdminPerMinute === 0 : config.rateLimitPerMinute === 0),
    // Redis away: serve rather than refuse everyone (each instance still has its body and batch limits).
    skipOnError: true,
    cache: 10_000,
    ...(store ? { store } : {}),
    errorResponseBuilder: (_request: FastifyRequest, context: { after: string }) =>
      new DomainError('RATE_LIMITED', `Too many requests for this API key: retry in ${context.after}`),
  });
}
