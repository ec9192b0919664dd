import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { CreatedPortalSession } from '../../../libs/contracts/src/usage-page.types';
import { PortalTokenResolver } from '../../common/auth/auth.guard';
import type { Principal } from '../../common/auth/principal';
import { Clock } from '../../common/clock/clock';
import { OrganizationsService } from '../organizations/organizations.service';
import { CreatePortalSessionDto } from './dto/create-portal-session.dto';
import { PortalSessionsRepository } from './portal-sessions.repository';
import { generatePortalToken, hashPortalToken, isPortalTokenAttempt, looksLikePortalToken, portalHashesEqual, portalUrl, PORTAL_TTL_DEFAULT_MINUTES } from './utils/portal-token';

export type { CreatedPortalSession };

/**
 * Customer portal links: an operator (or the platform's backend with the admin key) hands a customer a link
 * that opens their organization's usage page read-only, for a short while, without an API key. The token is
 * single-purpose: the guard accepts it on @PortalReadable routes of its own organization only.
 *
 * Not cached: a lookup is one indexed read, and expiry must hold to the second on every instance.
 */
@Injectable()
export class PortalSessionsService extends PortalTokenResolver {
  constructor(
    private readonly sessions: PortalSessionsRepository,
    private readonly organizations: OrganizationsService,
    private readonly clock: Clock,
  ) {
    super();
  }

  async create(organizationId: string, dto: CreatePortalSessionDto, origin: string, actor: string): Promise<CreatedPortalSession> {
    await this.organizations.getRow(organizationId);
    const token = generatePortalToken();
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + (dto.ttlMinutes ?? PORTAL_TTL_DEFAULT_MINUTES) * 60_000);
    await this.sessions.insert({ organization_id: organizationId, id: randomUUID(), token_hash: hashPortalToken(token), created_by: actor, created_at: now, expires_at: expiresAt });
    return { organizationId, url: portalUrl(origin, token), expiresAt: expiresAt.toISOString() };
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
