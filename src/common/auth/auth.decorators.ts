import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { PUBLIC_EXTENSION } from '../../openapi/openapi-extensions';

export const IS_PUBLIC = 'auth:isPublic';
export const REQUIRED_SCOPES = 'auth:scopes';

export const API_KEY_SCOPES = ['track', 'read', 'manage'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** No key needed (health, metrics, public plans). */
export const Public = () => applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension(PUBLIC_EXTENSION, true));

/**
 * An organization route: the admin key, or an organization key of that organization holding every listed
 * scope, may call it. Routes with neither decorator are admin-only: a route someone forgets to mark stays
 * closed. Scopes are independent (`manage` does not imply `read` or `track`).
 */
export const Scopes = (...scopes: ApiKeyScope[]) => SetMetadata(REQUIRED_SCOPES, scopes);

export const PORTAL_READABLE = 'auth:portalReadable';

/**
 * A read-only route of an organization's usage page that a customer portal link's token may call (on top of
 * what @Scopes allows). Every other route refuses portal tokens with 401, whatever it is.
 */
export const PortalReadable = () => SetMetadata(PORTAL_READABLE, true);
