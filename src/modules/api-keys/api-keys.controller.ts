import { Controller, Delete, Get, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Scopes } from '../../common/auth/auth.decorators';
import { ApiKeysService } from './api-keys.service';

/** An organization's own keys, for a key with the `manage` scope (creating keys stays with operators). */
@ApiTags('api keys')
@Controller('api/organizations/:orgId/api-keys')
@Scopes('manage')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Get()
  @ApiOperation({ summary: "List the organization's keys (never the secret)" })
  list(@Param('orgId') orgId: string) {
    return this.apiKeys.list(orgId);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke one of the organization\'s keys' })
  revoke(@Param('orgId') orgId: string, @Param('id') id: string) {
    return this.apiKeys.revoke(orgId, id);
  }
}
