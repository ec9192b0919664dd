import { Controller, Get, Headers, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../../common/auth/auth.decorators';
import { DashboardAssetsService } from './dashboard-assets.service';

/**
 * The dashboard's page and assets. Public: the page holds no data; it calls the API with the key the user
 * pastes, and the API checks that key as it checks any other client's.
 */
const ASSET = { schema: { type: 'string' } };
const TEXT = { 'text/plain': ASSET };

@ApiTags('dashboard')
@Controller('dashboard')
export class DashboardController {
  constructor(private readonly assets: DashboardAssetsService) {}

  @Public()
  @Get()
  @ApiOperation({ summary: 'The dashboard page (no data in it: it calls the API with the key the user gives it)' })
  @ApiResponse({ status: 200, description: 'The page', content: { 'text/html': ASSET } })
  @ApiResponse({ status: 304, description: 'Not modified (If-None-Match)' })
  @ApiResponse({ status: 503, description: 'The dashboard was not built (npm run build:dashboard)', content: TEXT })
  index(@Headers('if-none-match') etag: string | undefined, @Res() reply: FastifyReply) {
    return this.send(reply, this.assets.respond(undefined, etag));
  }

  @Public()
  @Get('*')
  @ApiOperation({ summary: "One of the dashboard's assets (script, styles, images), cached by ETag" })
  @ApiParam({ name: 'path', description: 'The asset below /dashboard/', example: 'app.js' })
  @ApiResponse({ status: 200, description: 'The asset', content: { '*/*': ASSET } })
  @ApiResponse({ status: 304, description: 'Not modified (If-None-Match)' })
  @ApiResponse({ status: 404, description: 'No such asset', content: TEXT })
  @ApiResponse({ status: 503, description: 'The dashboard was not built (npm run build:dashboard)', content: TEXT })
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
