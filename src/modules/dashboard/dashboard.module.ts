import { Module } from '@nestjs/common';
import { DashboardAssetsService } from './dashboard-assets.service';
import { DashboardSessionController } from './dashboard-session.controller';
import { DashboardController } from './dashboard.controller';
import { RootController } from './root.controller';

/** The usage dashboard at /dashboard (and `/`, which sends people there): the built front-end (dashboard/ -> dist/dashboard) and who-am-I. */
@Module({
  controllers: [DashboardController, DashboardSessionController, RootController],
  providers: [DashboardAssetsService],
})
export class DashboardModule {}
