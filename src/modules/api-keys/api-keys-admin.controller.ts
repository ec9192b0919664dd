import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Actor } from '../../common/auth/current-principal.decorator';
import { ApiKeysService } from './api-keys.service';
import { CreateApiKeyDto } from './dto/create-api-key.dto';

/** Admin-only (no @Scopes): operators issue, list and revoke any organization's keys. */
@ApiTags('admin: organizations')
@Controller('api/admin/organizations/:orgId/api-keys')
export class ApiKeysAdminController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create an organization API key {name, scopes}; the key is in this response only' })
  @ApiCreatedResponse({ schema: { example: { id: '3f0c…', organizationId: 'acme-corp', name: 'backend', scopes: ['track', 'read'], key: 'nxk_…', prefix: 'nxk_Ab12Cd34…', createdAt: '2026-11-15T12:00:00.000Z' } } })
  create(@Param('orgId') orgId: string, @Body() dto: CreateApiKeyDto, @Actor() actor: string) {
    return this.apiKeys.create(orgId, dto, actor);
  }

  @Get()
  @ApiOperation({ summary: "List the organization's keys (never the secret): scopes, last use, revocation" })
  list(@Param('orgId') orgId: string) {
    return this.apiKeys.list(orgId);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke a key (at once on this instance, within a second on the others over the change bus)' })
  revoke(@Param('orgId') orgId: string, @Param('id') id: string) {
    return this.apiKeys.revoke(orgId, id);
  }
}
