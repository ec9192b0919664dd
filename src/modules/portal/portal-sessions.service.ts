import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { CreatedPortalSession, PortalSessionsRevocation, PortalSessionView } from '../../../libs/contracts/src/usage-page.types';
import { PortalTokenResolver } from '../../common/auth/auth.guard';
import type { Principal } from '../../common/auth/principal';
import { Clock } from '../../common/clock/clock';
import { DomainError } from '../../common/errors/domain-error';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';
import { OrganizationsService } from '../organizations/organizations.service';
import { CreatePortalSessionDto } from './dto/create-portal-session.dto';
import { PortalSessionRecord, PortalSessionsRepository } from './portal-sessions.repository';
import { generatePortalToken, hashPortalToken, isPortalTokenAttempt, looksLikePortalToken, portalHashesEqual, portalUrl, PORTAL_TTL_DEFAULT_MINUTES } from './utils/portal-token';

export type { CreatedPortalSession, PortalSessionsRevocation, PortalSessionView };

function toView(row: PortalSessionRecord): PortalSessionView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    revokedAt: row.revoked_at ? new Date(row.revoked_at).toISOString() : null,
    revokedBy: row.revoked_by,
  };
}

/**
 * Customer portal links: an operator (or the platform's backend with the admin key) hands a customer a link
 * that opens their organization's usage page read-only, for a short while, without an API key. The token is
 * single-purpose: the guard accepts it on @PortalReadable routes of its own organization only.
 *
 * Not cached: a lookup is one indexed read, and expiry and revocation must hold to the second on every
 * instance (a revocation committed on one instance is refused by all from the next request on).
 */
@Injectable()
export class PortalSessionsService extends PortalTokenResolver {
  constructor(
    private readonly sessions: PortalSessionsRepository,
    private readonly organizations: OrganizationsService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  /** The link's origin is the configured PUBLIC_URL, never a request header (Host can name any site). */
  async create(organizationId: string, dto: CreatePortalSessionDto, actor: string): Promise<CreatedPortalSession> {
    await this.organizations.getRow(organizationId);
    const token = generatePortalToken();
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + (dto.ttlMinutes ?? PORTAL_TTL_DEFAULT_MINUTES) * 60_000);
    const id = randomUUID();
    await this.sessions.insert({ organization_id: organizationId, id, token_hash: hashPortalToken(token), created_by: actor, created_at: now, expires_at: expiresAt });
    return { id, organizationId, url: portalUrl(this.config.publicUrl, token), expiresAt: expiresAt.toISOString() };
  }

  /**
   * Revokes one link. Revoking a revoked (or expired) link changes nothing and answers the same, so a retried
   * DELETE is not an error; an id unknown in this organization is 404 PORTAL_SESSION_NOT_FOUND.
   */
  async revoke(organizationId: string, id: string, actor: string): Promise<PortalSessionView> {
    await this.organizations.getRow(organizationId);
    await this.sessions.revoke(organizationId, id, this.clock.now(), actor);
    const row = await this.sessions.find(organizationId, id);
    if (!row) throw new DomainError('PORTAL_SESSION_NOT_FOUND', `Portal link "${id}" does not exist in organization "${organizationId}"`, { organizationId, portalSessionId: id });
    return toView(row);
  }

  /** Revokes every link of the organization that still works (a leak whose link is unknown, an offboarding). */
  async revokeAll(organizationId: string, actor: string): Promise<PortalSessionsRevocation> {
    await this.organizations.getRow(organizationId);
    const now = this.clock.now();
    const revoked = await this.sessions.revokeAll(organizationId, now, actor);
    return { organizationId, revoked, revokedAt: now.toISOString() };
  }

  recognizes(token: string): boolean {
    return isPortalTokenAttempt(token);
  }

  async resolve(token: string): Promise<Principal | undefined> {
    if (!looksLikePortalToken(token)) return undefined;
    const hash = hashPortalToken(token);
    const row = await this.sessions.findUnexpired(hash, this.clock.now());
    if (!row || !portalHashesEqual(row.token_hash, hash)) return undefined;
    return Object.freeze({ kind: 'portal' as const, id: row.id, organizationId: row.organization_id, scopes: Object.freeze(['read'] as const), expiresAt: new Date(row.expires_at).toISOString() });
  }
}
