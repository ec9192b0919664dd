import { Controller, Get, Param } from '@nestjs/common';
import { ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { PortalReadable, Scopes } from '../../common/auth/auth.decorators';
import { BudgetsService } from './budgets.service';

/**
 * The budgets as part of the organization's usage (read scope): what the usage page shows, used / limit
 * per key and per member. Changing them takes the manage scope (BudgetsController).
 */
@ApiTags('usage')
@Controller('api/organizations/:orgId/usage/budgets')
@Scopes('read')
export class BudgetsUsageController {
  constructor(private readonly budgets: BudgetsService) {}

  @Get()
  // The usage page shows budgets, so a customer portal link of the organization may read them.
  @PortalReadable()
  @ApiOperation({ summary: "The organization's budgets with used and remaining in their current window (read scope)" })
  @ApiOkResponse({ description: "The budgets that apply to the organization's keys and members, with use in their current windows" })
  @ApiNotFoundResponse({ description: 'ORGANIZATION_NOT_FOUND (another organization too, for an organization key)' })
  @ApiUnauthorizedResponse({ description: 'UNAUTHORIZED: missing, unknown or revoked key' })
  @ApiForbiddenResponse({ description: 'FORBIDDEN: the key lacks the read scope' })
  list(@Param('orgId') orgId: string) {
    return this.budgets.list(orgId);
  }
}
