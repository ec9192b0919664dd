import { Global, Module } from '@nestjs/common';
import { PORTAL_TOKEN_RESOLVER } from '../../common/auth/auth.guard';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { OrganizationPortalSessionsController, PortalSessionsController } from './portal-sessions.controller';
import { PortalSessionsRepository } from './portal-sessions.repository';
import { PortalSessionsService } from './portal-sessions.service';

/** Customer portal links. Global: the app-wide AuthGuard resolves portal tokens through PORTAL_TOKEN_RESOLVER. */
@Global()
@Module({
  imports: [MeteringDataSourceModule, OrganizationsModule],
  controllers: [PortalSessionsController, OrganizationPortalSessionsController],
  providers: [PortalSessionsRepository, PortalSessionsService, { provide: PORTAL_TOKEN_RESOLVER, useExisting: PortalSessionsService }],
  exports: [PORTAL_TOKEN_RESOLVER],
})
export class PortalModule {}
