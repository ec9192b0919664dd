import { ArgumentsHost, CanActivate, Catch, DynamicModule, ExceptionFilter, ExecutionContext, Inject, Injectable, Module, Type, UseFilters, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { bearerToken, secretsEqual } from '../../common/auth/constant-time';
import { PRINCIPAL_KEY } from '../../common/auth/principal';
import type { Principal } from '../../common/auth/principal';
import { DomainError, validationFailed } from '../../common/errors/domain-error';
import { DomainHttpException } from '../../common/errors/domain-http.exception';
import { toErrorBody } from '../../common/errors/all-exceptions.filter';
import { flattenValidationErrors } from '../../common/errors/validation-errors';
import { AdminConfigController } from '../admin-config/admin-config.controller';
import { AdminConfigService } from '../admin-config/admin-config.service';
import { EventsAdminController } from '../events/events-admin.controller';
import { EventsCoreModule } from '../events/events-core.module';
import { JobsAdminController } from '../jobs/jobs-admin.controller';
import { JobsCoreModule } from '../jobs/jobs-core.module';
import { OrganizationsAdminController } from '../organizations/organizations-admin.controller';
import { OrganizationsCoreModule } from '../organizations/organizations-core.module';
import { PlansAdminController } from '../plans/plans-admin.controller';
import { PlansCoreModule } from '../plans/plans-core.module';

export interface UsageTrackingAdminOptions {
  /** The bearer key of metering's admin API in the host (at least 12 characters). */
  adminApiKey: string;
}

const ADMIN_OPTIONS = Symbol('USAGE_TRACKING_ADMIN_OPTIONS');

/** Metering's admin routes in a host: the admin key, and nothing else (no organization keys, no dev key). */
@Injectable()
class EmbeddedAdminGuard implements CanActivate {
  constructor(@Inject(ADMIN_OPTIONS) private readonly options: UsageTrackingAdminOptions) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined>; [PRINCIPAL_KEY]?: Principal }>();
    const token = bearerToken(request.headers.authorization);
    if (!token || !secretsEqual(token, this.options.adminApiKey)) throw new DomainHttpException(new DomainError('UNAUTHORIZED', 'This route needs the metering admin API key'));
    request[PRINCIPAL_KEY] = { kind: 'admin', id: 'admin' };
    return true;
  }
}

/** The error body of docs/api.md for metering's errors on its admin routes (the host has no filter of ours). */
@Catch(DomainError, DomainHttpException)
class EmbeddedAdminErrorFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: DomainError | DomainHttpException, host: ArgumentsHost): void {
    const { body } = toErrorBody(exception);
    this.adapterHost.httpAdapter.reply(host.switchToHttp().getResponse(), body, body.statusCode);
  }
}

/** The service's validation, per controller: a global pipe would also validate the host's own routes. */
function adminValidation(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => validationFailed(flattenValidationErrors(errors)),
  });
}

/**
 * A subclass of one of the service's admin controllers (same routes, same handlers) carrying the guard,
 * the validation and the error filter itself. The service's own controller class is left as it is: in the
 * service its AuthGuard, global pipe and filter do this work.
 */
function embeddedController(controller: Type, validation: ValidationPipe): Type {
  const guarded = class extends controller {};
  Object.defineProperty(guarded, 'name', { value: `Embedded${controller.name}` });
  UseGuards(EmbeddedAdminGuard)(guarded);
  UsePipes(validation)(guarded);
  UseFilters(EmbeddedAdminErrorFilter)(guarded);
  return guarded;
}

/**
 * Opt-in: metering's admin API (organizations and their credits, plans, event types, the catalogue, jobs)
 * mounted in the host application under /api/admin, behind its own admin key. Import it next to
 * `UsageTrackingModule.forRoot(...)`, and only where the host's operators can reach it.
 */
@Module({})
export class UsageTrackingAdminModule {
  static forRoot(options: UsageTrackingAdminOptions): DynamicModule {
    if (typeof options.adminApiKey !== 'string' || options.adminApiKey.length < 12) throw new Error('UsageTrackingAdminModule: adminApiKey must be at least 12 characters long');
    const validation = adminValidation();
    return {
      module: UsageTrackingAdminModule,
      imports: [OrganizationsCoreModule, PlansCoreModule, EventsCoreModule, JobsCoreModule],
      controllers: [OrganizationsAdminController, PlansAdminController, EventsAdminController, AdminConfigController, JobsAdminController].map((c) => embeddedController(c, validation)),
      providers: [{ provide: ADMIN_OPTIONS, useValue: options }, EmbeddedAdminGuard, AdminConfigService],
    };
  }
}
