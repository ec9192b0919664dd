import { Controller, Get, Redirect } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../../common/auth/auth.decorators';

/** `GET /`: a person who types the service's address lands on the dashboard (not a 404). */
@ApiTags('dashboard')
@Controller()
export class RootController {
  @Public()
  @Get()
  @ApiOperation({ summary: 'Sends a browser to the dashboard' })
  @ApiResponse({ status: 302, description: 'Location: /dashboard' })
  @Redirect('/dashboard', 302)
  root(): void {}
}
