import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PortalReadable, Scopes } from '../../common/auth/auth.decorators';
import { CurrentPrincipal } from '../../common/auth/current-principal.decorator';
import type { Principal } from '../../common/auth/principal';
import { sessionOf } from './utils/session';

@ApiTags('dashboard')
@Controller('api/dashboard')
export class DashboardSessionController {
  /**
   * The admin key, or an organization key with `read`: the scope every dashboard view needs, so a key
   * without it is refused at sign-in (403) rather than on every panel.
   */
  @Get('session')
  @Scopes('read')
  @PortalReadable()
  @ApiOperation({ summary: 'Who the presented key is (the dashboard signs in with it): the admin, or an organization key with its organization and scopes' })
  @ApiOkResponse({ schema: { example: { kind: 'organization', organizationId: 'acme-corp', scopes: ['track', 'read'] } }, description: 'kind admin, organization, or portal (a portal link: read-only, with expiresAt)' })
  session(@CurrentPrincipal() principal: Principal | undefined) {
    return sessionOf(principal);
  }
}
