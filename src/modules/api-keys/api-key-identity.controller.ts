import { Controller, Get } from '@nestjs/common';
import { ApiForbiddenResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Scopes } from '../../common/auth/auth.decorators';
import { CurrentPrincipal } from '../../common/auth/current-principal.decorator';
import type { Principal } from '../../common/auth/principal';
import { keyIdentityOf } from './utils/key-identity';

/**
 * The presented key's own organization and scopes, for a metering client (the client package asks it once
 * to learn which organization to charge, and checks at boot that its key can meter). `track` is enough:
 * a key made only for metering must not need `read` to find out whose it is.
 */
@ApiTags('api keys')
@Controller('api/key')
export class ApiKeyIdentityController {
  @Get()
  @Scopes('track')
  @ApiOperation({ summary: 'Whose the presented key is and what it may do: the admin, or an organization key with its organization and scopes (needs track)' })
  @ApiOkResponse({ schema: { example: { kind: 'organization', organizationId: 'acme-corp', scopes: ['track'] } } })
  @ApiUnauthorizedResponse({ description: 'UNAUTHORIZED: no key, or an unknown, revoked or portal one' })
  @ApiForbiddenResponse({ description: 'FORBIDDEN: the key lacks the track scope' })
  identity(@CurrentPrincipal() principal: Principal | undefined) {
    return keyIdentityOf(principal);
  }
}
