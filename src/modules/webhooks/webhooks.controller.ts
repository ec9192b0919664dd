import { Controller, Get, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Scopes } from '../../common/auth/auth.decorators';
import { WebhooksService } from './webhooks.service';

@ApiTags('webhooks')
@Controller('api/organizations/:orgId/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Get('deliveries')
  @Scopes('read')
  @ApiOperation({ summary: 'Webhook deliveries, newest first, with every attempt' })
  deliveries(@Param('orgId') orgId: string) {
    return this.webhooks.deliveries(orgId);
  }
}
