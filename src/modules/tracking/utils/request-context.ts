import { PRINCIPAL_KEY } from '../../../common/auth/principal';
import type { Principal } from '../../../common/auth/principal';
import type { TrackInput } from '../../usage/usage.types';

/** What both platforms give of a request: Fastify has `routeOptions`, Express `route` (and `ip` both). */
export interface PlatformRequest {
  headers: Record<string, string | string[] | undefined>;
  url?: string;
  ip?: string;
  routeOptions?: { url?: string };
  route?: { path?: unknown };
  [PRINCIPAL_KEY]?: Principal;
}

/**
 * The request's context for the ledger: route pattern, client, the organization API key that made it (its
 * budgets apply) and the agent run it is charged to (`X-Run-Id`; checked when the event is prepared).
 */
export function requestContext(request: PlatformRequest): TrackInput['context'] {
  const ua = request.headers['user-agent'];
  const principal = request[PRINCIPAL_KEY];
  const runId = runIdHeader(request.headers['x-run-id']);
  return {
    endpoint: routePattern(request),
    ip: request.ip,
    userAgent: typeof ua === 'string' ? ua : undefined,
    ...(principal?.kind === 'organization' ? { apiKeyId: principal.id } : {}),
    ...(runId !== undefined ? { runId } : {}),
  };
}

/** The X-Run-Id header as given (an empty one is none); repeated headers join into one value, which no run id matches. */
export function runIdHeader(header: string | string[] | undefined): string | undefined {
  const value = (Array.isArray(header) ? header.join(',') : (header ?? '')).trim();
  // Kept short: an unknown id is echoed back in the 404's details.
  return value.length > 0 ? value.slice(0, 64) : undefined;
}

/** The route's pattern (`/api/tools/:id`, not the URL with its ids) on Fastify and on Express. */
export function routePattern(request: PlatformRequest): string | undefined {
  if (typeof request.routeOptions?.url === 'string') return request.routeOptions.url;
  if (typeof request.route?.path === 'string') return request.route.path;
  return request.url;
}
