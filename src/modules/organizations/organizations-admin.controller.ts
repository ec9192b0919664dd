import { Body, Controller, Delete, Get, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Actor } from '../../common/auth/current-principal.decorator';
import { AddMemberDto, ChangePlanDto, CreateOrganizationDto, GrantCreditsDto, UpdateOrganizationDto } from './dto/organization.dto';
import { ListOrganizationsQueryDto } from './dto/list-organizations.dto';
import { OrganizationsService } from './organizations.service';
import { ApiErrors } from '../../openapi/api-errors.decorator';

@ApiTags('admin: organizations')
@Controller('api/admin/organizations')
export class OrganizationsAdminController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Post()
  @ApiErrors(409)
  @ApiOperation({ summary: 'Create an organization (the response shows its webhook signing secret, once)' })
  create(@Body() dto: CreateOrganizationDto) {
    return this.organizations.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'List organizations by id, optionally those whose id or name contains q (cursor: the last id of the previous page)' })
  list(@Query() query: ListOrganizationsQueryDto) {
    return this.organizations.list(query.limit ?? 100, query.cursor, query.q);
  }

  @Get(':orgId')
  @ApiOperation({ summary: 'One organization: plan, billing cycle, spend cap, webhook URL and any pending plan change' })
  get(@Param('orgId') orgId: string) {
    return this.organizations.get(orgId);
  }

  @Patch(':orgId')
  @ApiOperation({ summary: 'Change name, billing cycle, spend cap or webhook URL' })
  update(@Param('orgId') orgId: string, @Body() dto: UpdateOrganizationDto) {
    return this.organizations.update(orgId, dto);
  }

  @Put(':orgId/plan')
  @ApiErrors(409)
  @ApiOperation({ summary: 'Change plan now (allowance changes at once, used credits stay) or from the next period' })
  changePlan(@Param('orgId') orgId: string, @Body() dto: ChangePlanDto) {
    return this.organizations.changePlan(orgId, dto);
  }

  @Post(':orgId/credits')
  @ApiOperation({ summary: 'Grant top-up credits (consumed after the allowance, earliest expiry first)' })
  grant(@Param('orgId') orgId: string, @Body() dto: GrantCreditsDto, @Actor() actor: string) {
    return this.organizations.grantCredits(orgId, dto, actor);
  }

  @Get(':orgId/credits')
  @ApiOperation({ summary: 'The top-up grants: amount, consumed, remaining and expiry of each' })
  grants(@Param('orgId') orgId: string) {
    return this.organizations.listGrants(orgId);
  }

  @Post(':orgId/members')
  @ApiErrors(402)
  @ApiOperation({ summary: "Add a member (or change a member's role); the plan's teamMembersLimit applies" })
  addMember(@Param('orgId') orgId: string, @Body() dto: AddMemberDto) {
    return this.organizations.addMember(orgId, dto);
  }

  @Get(':orgId/members')
  @ApiOperation({ summary: 'The members with their roles' })
  members(@Param('orgId') orgId: string) {
    return this.organizations.listMembers(orgId);
  }

  @Delete(':orgId/members/:userId')
  @ApiOperation({ summary: 'Remove a member (their recorded usage stays)' })
  removeMember(@Param('orgId') orgId: string, @Param('userId') userId: string) {
    return this.organizations.removeMember(orgId, userId);
  }
}
