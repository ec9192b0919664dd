import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { actorName, Principal, PRINCIPAL_KEY } from './principal';

/** The authenticated principal the guard left on the request. */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal | undefined => {
  return ctx.switchToHttp().getRequest<Record<string, Principal | undefined>>()[PRINCIPAL_KEY];
});

/** Who made a change, as recorded in version history ("admin", "key:<id>"). */
export const Actor = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  return actorName(ctx.switchToHttp().getRequest<Record<string, Principal | undefined>>()[PRINCIPAL_KEY]);
});
