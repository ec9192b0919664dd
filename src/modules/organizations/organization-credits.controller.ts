import { Controller, Get, Param } from '@nestjs/common';
import { ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { PortalReadable, Scopes } from '../../common/auth/auth.decorators';
import { OrganizationsService } from './organizations.service';

/** The organization's own view of its top-ups (operators grant them at /api/admin/organizations/:orgId/credits). */
@ApiTags('usage analytics')
@Controller('api/organizations/:orgId/credits')
export class OrganizationCreditsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Get()
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'Top-up credits: each grant with amount, used, remaining, expiry and state, and what expires within 7 days' })
  @ApiOkResponse({ description: 'The grants, newest first, and what expires soon' })

  @ApiUnauthorizedResponse({ description: 'UNAUTHORIZED: no key, an unknown, revoked or expired one, or a portal link of another route' })
  @ApiForbiddenResponse({ description: 'FORBIDDEN: the key lacks the read scope' })
  @ApiNotFoundResponse({ description: 'ORGANIZATION_NOT_FOUND: unknown, or another organization than the key\'s' })
  list(@Param('orgId') orgId: string) {
    return this.organizations.grantsOverview(orgId);
  }
}
