import { Body, Controller, Param, Post, Req } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Actor } from '../../common/auth/current-principal.decorator';
import { CreatePortalSessionDto } from './dto/create-portal-session.dto';
import { PortalSessionsService } from './portal-sessions.service';

/** Admin-only (no @Scopes): operators, or the platform's backend with the admin key, create portal links. */
@ApiTags('admin: organizations')
@Controller('api/admin/organizations/:orgId/portal-sessions')
export class PortalSessionsController {
  constructor(private readonly portal: PortalSessionsService) {}

  @Post()
  @ApiOperation({ summary: "Create a short-lived, read-only link to the organization's usage page (no API key needed to open it)" })
  @ApiCreatedResponse({ description: 'The link; its token works on the usage page of this organization only, until expiresAt' })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED: ttlMinutes outside 5..1440, or an unknown field' })
  @ApiUnauthorizedResponse({ description: 'UNAUTHORIZED: not the admin key' })
  @ApiNotFoundResponse({ description: 'ORGANIZATION_NOT_FOUND' })
  create(@Param('orgId') orgId: string, @Body() dto: CreatePortalSessionDto, @Req() request: FastifyRequest, @Actor() actor: string) {
    return this.portal.create(orgId, dto, `${request.protocol}://${request.host}`, actor);
  }
}
