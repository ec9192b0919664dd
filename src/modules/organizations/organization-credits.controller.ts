import { Controller, Get, Param } from '@nestjs/common';
import { ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { PortalReadable, Scopes } from '../../common/auth/auth.decorators';
import { ERROR_SCHEMA } from '../../common/errors/error-schema';
import { OrganizationsService } from './organizations.service';

const GRANT_SCHEMA = {
  type: 'object',
  required: ['id', 'amount', 'used', 'remaining', 'expiresAt', 'reason', 'createdAt', 'state'],
  properties: {
    id: { type: 'string' },
    amount: { type: 'number' },
    used: { type: 'number' },
    remaining: { type: 'number' },
    expiresAt: { type: 'string', format: 'date-time', nullable: true },
    reason: { type: 'string', nullable: true },
    createdAt: { type: 'string', format: 'date-time' },
    state: { type: 'string', enum: ['active', 'expiring-soon', 'expired', 'used-up'] },
  },
};

/** The organization's own view of its top-ups (operators grant them at /api/admin/organizations/:orgId/credits). */
@ApiTags('usage analytics')
@Controller('api/organizations/:orgId/credits')
export class OrganizationCreditsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Get()
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'Top-up credits: each grant with amount, used, remaining, expiry and state, and what expires within 7 days' })
  @ApiOkResponse({
    schema: {
      type: 'object',
      required: ['organizationId', 'asOf', 'expiringSoonDays', 'remaining', 'expiringSoon', 'items'],
      properties: {
        organizationId: { type: 'string' },
        asOf: { type: 'string', format: 'date-time' },
        expiringSoonDays: { type: 'integer', example: 7 },
        remaining: { type: 'number' },
        expiringSoon: { type: 'object', required: ['credits', 'firstExpiry'], properties: { credits: { type: 'number' }, firstExpiry: { type: 'string', format: 'date-time', nullable: true } } },
        items: { type: 'array', items: GRANT_SCHEMA },
      },
    },
  })
  @ApiUnauthorizedResponse({ description: 'UNAUTHORIZED: no key, an unknown, revoked or expired one, or a portal link of another route', schema: ERROR_SCHEMA })
  @ApiForbiddenResponse({ description: 'FORBIDDEN: the key lacks the read scope', schema: ERROR_SCHEMA })
  @ApiNotFoundResponse({ description: 'ORGANIZATION_NOT_FOUND: unknown, or another organization than the key\'s', schema: ERROR_SCHEMA })
  list(@Param('orgId') orgId: string) {
    return this.organizations.grantsOverview(orgId);
  }
}
