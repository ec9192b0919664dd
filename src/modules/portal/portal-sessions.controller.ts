import { Body, Controller, Delete, Param, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Scopes } from '../../common/auth/auth.decorators';
import { Actor } from '../../common/auth/current-principal.decorator';
import { CreatePortalSessionDto } from './dto/create-portal-session.dto';
import { PortalSessionsService } from './portal-sessions.service';

/**
 * The revocation routes, once: operators (admin key) and the organization's own `manage` key revoke with
 * the same handlers under two prefixes, told apart only by their class's path, guard and 401/403 docs.
 */
abstract class PortalRevokeRoutes {
  constructor(protected readonly portal: PortalSessionsService) {}

  @Delete()
  @ApiOperation({ summary: 'Revoke every link of the organization that still works (a leaked link whose id is unknown, an offboarding)' })
  @ApiOkResponse({ description: 'How many links were revoked (0 on a repeat)' })
  @ApiNotFoundResponse({ description: 'ORGANIZATION_NOT_FOUND' })
  revokeAll(@Param('orgId') orgId: string, @Actor() actor: string) {
    return this.portal.revokeAll(orgId, actor);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke one portal link: refused on every instance from the next request on (repeating it answers the same)' })
  @ApiOkResponse({ description: 'The link, with revokedAt' })
  @ApiNotFoundResponse({ description: 'ORGANIZATION_NOT_FOUND, or PORTAL_SESSION_NOT_FOUND' })
  revoke(@Param('orgId') orgId: string, @Param('id') id: string, @Actor() actor: string) {
    return this.portal.revoke(orgId, id, actor);
  }
}

/** Admin-only (no @Scopes): operators, or the platform's backend with the admin key, create and revoke portal links. */
@ApiTags('admin: organizations')
@Controller('api/admin/organizations/:orgId/portal-sessions')
@ApiUnauthorizedResponse({ description: 'UNAUTHORIZED: not the admin key' })
export class PortalSessionsController extends PortalRevokeRoutes {
  constructor(portal: PortalSessionsService) {
    super(portal);
  }

  @Post()
  @ApiOperation({ summary: "Create a short-lived, read-only link to the organization's usage page (no API key needed to open it)" })
  @ApiCreatedResponse({ description: 'The link and its id; its token works on the usage page of this organization only, until expiresAt or a revocation' })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED: ttlMinutes outside 5..1440, or an unknown field' })
  @ApiNotFoundResponse({ description: 'ORGANIZATION_NOT_FOUND' })
  create(@Param('orgId') orgId: string, @Body() dto: CreatePortalSessionDto, @Actor() actor: string) {
    return this.portal.create(orgId, dto, actor);
  }
}

/** The organization's own portal links, for a key with the `manage` scope (creating links stays with operators). */
@ApiTags('portal links')
@Controller('api/organizations/:orgId/portal-sessions')
@Scopes('manage')
@ApiUnauthorizedResponse({ description: 'UNAUTHORIZED' })
@ApiForbiddenResponse({ description: 'FORBIDDEN: the key lacks the manage scope' })
export class OrganizationPortalSessionsController extends PortalRevokeRoutes {
  constructor(portal: PortalSessionsService) {
    super(portal);
  }
}
