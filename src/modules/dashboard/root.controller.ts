import { Controller, Get, Redirect } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../../common/auth/auth.decorators';

/** `GET /`: a person who types the service's address lands on the dashboard (not a 404). */
@ApiExcludeController()
@Controller()
export class RootController {
  @Public()
  @Get()
  @Redirect('/dashboard', 302)
  root(): void {}
}
