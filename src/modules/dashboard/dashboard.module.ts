import { Module } from '@nestjs/common';
import { DashboardAssetsService } from './dashboard-assets.service';
import { DashboardSessionController } from './dashboard-session.controller';
import { DashboardController } from './dashboard.controller';

/** The usage dashboard at /dashboard: the built front-end (dashboard/ -> dist/dashboard) and who-am-I. */
@Module({
  controllers: [DashboardController, DashboardSessionController],
  providers: [DashboardAssetsService],
})
export class DashboardModule {}
