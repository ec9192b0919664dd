import { Controller, Get, Headers, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../../common/auth/auth.decorators';
import { DashboardAssetsService } from './dashboard-assets.service';

/**
 * The dashboard's page and assets. Public: the page holds no data; it calls the API with the key the user
 * pastes, and the API checks that key as it checks any other client's.
 */
@ApiExcludeController()
@Controller('dashboard')
export class DashboardController {
  constructor(private readonly assets: DashboardAssetsService) {}

  @Public()
  @Get()
  index(@Headers('if-none-match') etag: string | undefined, @Res() reply: FastifyReply) {
    return this.send(reply, this.assets.respond(undefined, etag));
  }

  @Public()
  @Get('*')
  asset(@Req() request: FastifyRequest, @Headers('if-none-match') etag: string | undefined, @Res() reply: FastifyReply) {
    return this.send(reply, this.assets.respond(pathBelowDashboard(request.url), etag));
  }

  private send(reply: FastifyReply, response: ReturnType<DashboardAssetsService['respond']>) {
    return reply.status(response.statusCode).headers(response.headers).send(response.body);
  }
}

/** "/dashboard/app.js?v=1" -> "app.js" (undefined when it cannot be decoded: then no asset matches). */
function pathBelowDashboard(url: string): string | undefined {
  try {
    return decodeURIComponent(url.split('?')[0].replace(/^\/dashboard\/?/, ''));
  } catch {
    return '\0';
  }
}
